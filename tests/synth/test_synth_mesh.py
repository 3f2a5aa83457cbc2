import numpy as np
import pytest

from neutex.synth.mesh import make_egg_mesh, make_mesh, make_vase_mesh, write_obj
from neutex.synth.textures import make_textures


def _weld(mesh):
    """Faces re-indexed onto unique positions (seam and pole duplicates merged)."""
    key = np.round(mesh.vertices, 9)
    _, inverse = np.unique(key, axis=0, return_inverse=True)
    return inverse.reshape(-1)[mesh.faces]


MESHES = {
    "egg": lambda: make_egg_mesh(32, 17),
    "vase": lambda: make_vase_mesh(32),
}


@pytest.fixture(params=sorted(MESHES))
def mesh(request):
    return MESHES[request.param]()


def test_arrays_and_ranges(mesh):
    n = len(mesh.vertices)
    assert mesh.vertices.shape == (n, 3) and mesh.uvs.shape == (n, 2) and mesh.normals.shape == (n, 3)
    assert mesh.faces.shape[1] == 3 and mesh.faces.min() >= 0 and mesh.faces.max() < n
    assert np.allclose(np.linalg.norm(mesh.normals, axis=1), 1.0, atol=1e-9)
    assert mesh.uvs.min() >= 0.0 and mesh.uvs.max() <= 1.0
    assert np.linalg.norm(mesh.vertices, axis=1).max() < 1.0  # inside the unit sphere
    assert np.isin(np.arange(n), mesh.faces).all()  # no unreferenced vertices


def test_closed_and_consistently_oriented(mesh):
    f = _weld(mesh)
    edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    directed, counts = np.unique(edges, axis=0, return_counts=True)
    assert (counts == 1).all(), "a directed edge appears twice: inconsistent orientation"
    undirected, ucounts = np.unique(np.sort(edges, axis=1), axis=0, return_counts=True)
    assert (ucounts == 2).all(), "an edge with != 2 faces: the surface is not closed"
    v = mesh.vertices
    tri = v[mesh.faces]
    volume = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6
    assert volume > 0  # counter-clockwise seen from outside


def test_normals_agree_with_faces(mesh):
    v, fc = mesh.vertices, mesh.faces
    fn = np.cross(v[fc[:, 1]] - v[fc[:, 0]], v[fc[:, 2]] - v[fc[:, 0]])
    area = np.linalg.norm(fn, axis=1)
    assert area.min() > 1e-10  # no degenerate triangles
    cos = np.einsum("ij,ij->i", fn / area[:, None], mesh.normals[fc].mean(1))
    assert cos.min() > 0.8


def test_uv_seam_duplicates_and_v_up():
    m = make_egg_mesh(16, 9)
    seam0 = m.uvs[:, 0] == 0.0
    seam1 = m.uvs[:, 0] == 1.0
    assert seam0.sum() == seam1.sum() > 0
    assert np.allclose(m.vertices[seam0], m.vertices[seam1])
    assert np.allclose(m.normals[seam0], m.normals[seam1])
    # v up: the bottom pole has v = 0, the top v = 1, and v grows with z on the egg
    assert np.allclose(m.uvs[m.vertices[:, 2].argmin(), 1], 0) and np.allclose(m.uvs[m.vertices[:, 2].argmax(), 1], 1)
    assert np.corrcoef(m.uvs[:, 1], m.vertices[:, 2])[0, 1] > 0.95


def test_vase_has_concave_neck_and_cavity():
    m = make_vase_mesh(32, 128)
    r = np.hypot(m.vertices[:, 0], m.vertices[:, 1])
    outer = m.normals[:, 2] ** 2 < 0.5  # wall vertices
    outward = np.einsum("ij,ij->i", m.normals[:, :2], m.vertices[:, :2]) > 0
    z = m.vertices[:, 2]
    body = r[outer & outward & (np.abs(z + 0.2) < 0.05)].max()
    neck = r[outer & outward & (np.abs(z - 0.35) < 0.05)].max()
    assert neck < 0.6 * body
    assert (outer & ~outward).sum() > 0  # inner wall facing the axis: an open cavity


def test_write_obj_roundtrip(tmp_path):
    m = make_egg_mesh(8, 5)
    write_obj(tmp_path / "m.obj", m)
    lines = (tmp_path / "m.obj").read_text().splitlines()
    v = np.array([l.split()[1:] for l in lines if l.startswith("v ")], float)
    vt = np.array([l.split()[1:] for l in lines if l.startswith("vt ")], float)
    vn = np.array([l.split()[1:] for l in lines if l.startswith("vn ")], float)
    f = [l.split()[1:] for l in lines if l.startswith("f ")]
    assert np.allclose(v, m.vertices, atol=1e-6) and np.allclose(vt, m.uvs, atol=1e-6)
    assert np.allclose(vn, m.normals, atol=1e-6)
    assert len(f) == len(m.faces) and f[0][0] == "{0}/{0}/{0}".format(m.faces[0, 0] + 1)


def test_make_mesh_unknown_shape():
    with pytest.raises(ValueError, match="unknown shape"):
        make_mesh("teapot")


def test_textures_periodic_in_u_and_in_range():
    t = make_textures("egg", 64, seed=3)
    assert t.albedo.shape == (64, 128, 3) and t.roughness.shape == (64, 128)
    assert 0.02 <= t.albedo.min() and t.albedo.max() <= 0.9
    assert 0.05 <= t.roughness.min() and t.roughness.max() <= 0.9
    # the seam columns differ no more than neighbouring columns do
    seam = np.abs(t.albedo[:, 0] - t.albedo[:, -1]).mean()
    inner = np.abs(np.diff(t.albedo, axis=1)).mean()
    assert seam < 2 * inner
    assert t.roughness.std() > 0.05 and t.albedo.std() > 0.05  # spatially varying
    assert np.array_equal(make_textures("egg", 64, seed=3).albedo, t.albedo)
