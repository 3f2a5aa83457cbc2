import numpy as np
import pytest
import trimesh

import neutex.capture.mesh as mesh_mod
from neutex.capture.mesh import Mesh, load_mesh, save_mesh, smooth_normals, unwrap_uvs
from neutex.errors import CaptureError

SEAM_OBJ = """\
# two quads sharing the edge x=1; the shared vertices have different uvs on each side (a seam)
v 0 0 0
v 1 0 0
v 1 1 0
v 0 1 0
v 2 0 0
v 2 1 0
vt 0 0
vt 0.5 0
vt 0.5 1
vt 0 1
vt 0.6 0
vt 0.6 1
vt 1 0
vt 1 1
vn 0 0 1
f 1/1/1 2/2/1 3/3/1 4/4/1
f 2/5/1 5/7/1 6/8/1 3/6/1
"""


def test_obj_keeps_uv_seams(tmp_path):
    p = tmp_path / "seam.obj"
    p.write_text(SEAM_OBJ)
    m = load_mesh(p)
    assert m.faces.shape == (4, 3) and m.faces.dtype == np.int32 and m.vertices.dtype == np.float32
    assert len(m.vertices) == 8  # 6 positions, 2 of them split at the seam
    # every face corner keeps its own uv: on the seam x = 1, u is 0.5 for the left quad, 0.6 for the right
    for f in m.faces:
        right = m.vertices[f][:, 0].max() == 2
        on_seam = m.vertices[f][:, 0] == 1
        np.testing.assert_allclose(m.uvs[f][on_seam, 0], 0.6 if right else 0.5)
    np.testing.assert_allclose(m.normals, [[0, 0, 1]] * 8)


def test_obj_reads_vn_and_computes_normals_when_absent(tmp_path):
    p = tmp_path / "n.obj"
    p.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nvn 0 2 0\nf 1//1 2//1 3//1\n")
    np.testing.assert_allclose(load_mesh(p).normals, [[0, 1, 0]] * 3)  # file normals, normalised
    p.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    m = load_mesh(p)
    assert m.uvs is None
    np.testing.assert_allclose(m.normals, [[0, 0, 1]] * 3, atol=1e-6)


def test_smooth_normals_shared_across_seam():
    # a closed box whose vertices are duplicated per face (like uv seams): normals still smooth
    box = trimesh.creation.box()
    v = box.vertices[box.faces].reshape(-1, 3)
    f = np.arange(len(v)).reshape(-1, 3)
    n = smooth_normals(v, f)
    corner = np.all(np.isclose(v, v[0]), axis=1)
    assert corner.sum() > 1 and np.allclose(n[corner], n[corner][0])
    assert abs(abs(n[0]).sum() - np.sqrt(3)) < 0.2  # roughly the corner diagonal


def test_ply_roundtrip_with_normals(tmp_path):
    s = trimesh.creation.icosphere(1)
    p = tmp_path / "s.ply"
    s.export(p, vertex_normal=True)
    m = load_mesh(p)
    assert m.faces.shape == (80, 3) and m.normals.shape == (42, 3)
    np.testing.assert_allclose(np.linalg.norm(m.normals, axis=1), 1, atol=1e-5)


def test_save_load_roundtrip(tmp_path):
    m = Mesh([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]], [[0, 0], [1, 0], [0, 1]], [[0, 0, 1]] * 3)
    m2 = load_mesh(save_mesh(m, tmp_path / "m.obj"))
    np.testing.assert_allclose(m2.vertices, m.vertices)
    np.testing.assert_allclose(m2.uvs, m.uvs)
    np.testing.assert_array_equal(m2.faces, m.faces)


@pytest.mark.parametrize("name,content,match", [
    ("missing.obj", None, "mesh file not found"),
    ("bad.obj", "v 0 0 0\nv 1 0\n", "line 2"),
    ("empty.obj", "# nothing\n", "no vertices"),
    ("idx.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n", "out of range"),
    ("bad.ply", "ply\nformat nonsense\n", "bad.ply"),
    ("m.stl", "solid", "unsupported mesh format"),
])
def test_unreadable_mesh_errors_name_the_file(tmp_path, name, content, match):
    p = tmp_path / name
    if content is not None:
        p.write_text(content)
    with pytest.raises(CaptureError, match=match) as exc:
        load_mesh(p)
    assert name in str(exc.value) and "\n" not in str(exc.value)


def test_unwrap_uvs_in_subprocess():
    s = trimesh.creation.icosphere(1)
    m = unwrap_uvs(Mesh(s.vertices, s.faces))
    assert m.uvs is not None and len(m.uvs) == len(m.vertices) >= 42 and len(m.faces) == 80
    assert m.uvs.min() >= 0 and m.uvs.max() <= 1
    # positions are unchanged, only split
    assert set(map(tuple, np.round(m.vertices, 5))) == set(map(tuple, np.round(s.vertices.astype(np.float32), 5)))


def test_unwrap_refuses_large_meshes():
    s = trimesh.creation.icosphere(2)  # 320 faces
    with pytest.raises(CaptureError, match="limited to 100 faces") as exc:
        unwrap_uvs(Mesh(s.vertices, s.faces), max_faces=100)
    assert exc.value.hint


def test_unwrap_crash_becomes_capture_error(monkeypatch):
    monkeypatch.setattr(mesh_mod, "_XATLAS_SCRIPT", "import os; os.abort()")
    s = trimesh.creation.icosphere(0)
    with pytest.raises(CaptureError, match="xatlas.*failed.*signal"):
        unwrap_uvs(Mesh(s.vertices, s.faces))
