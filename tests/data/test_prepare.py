import json
import shutil

import numpy as np
import pytest

from neutex.capture import load_capture, save_capture, write_exr, write_png
from neutex.cli import entrypoint
from neutex.data import BUCKETS, PrepareConfig, PreparedData, prepare_capture
from neutex.errors import CaptureError, DataError

pytestmark = pytest.mark.usefixtures("egl")


def prep(cap, out, **kw):
    return prepare_capture(PrepareConfig(cap, out, progress=False, **{"view_fraction": 0.75, "light_fraction": 0.75, **kw}))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, capture_maker, egl):
    """4 views x 8 lights at 32², one missing pair (1, 2), a sequence, 2 directional lights."""
    root = tmp_path_factory.mktemp("prep")
    cap = capture_maker(root / "cap", sequence=True, skip=((1, 2),), directional=2)
    return cap, prep(cap, root / "out")


def test_prepare_writes_the_layout(prepared):
    cap, out = prepared
    V, L, H, W = 4, 8, 32, 32
    want = {"uv": ((V, H, W, 2), np.float32), "normal": ((V, H, W, 3), np.float32),
            "position": ((V, H, W, 3), np.float32), "mask": ((V, H, W), np.bool_), "depth": ((V, H, W), np.float32),
            "images": ((V, L, H, W, 3), np.float16), "pairs": ((V, L), np.bool_),
            "seq_sweep_cam00": ((4, H, W, 3), np.float16)}
    for name, (shape, dtype) in want.items():
        a = np.load(out / "arrays" / f"{name}.npy")  # plain numpy reads it
        assert a.shape == shape and a.dtype == dtype, name
    assert not (out / "arrays" / "valid.npy").exists()  # EXR: nothing saturated
    meta = json.loads((out / "prepared.json").read_text())
    splits = json.loads((out / "splits.json").read_text())
    assert meta["format"] == "neutex-prepared/1" and meta["tool"]["name"] == "neutex"
    assert meta["width"] == W and meta["height"] == H and meta["view_ids"] == [f"cam{i:02d}" for i in range(4)]
    assert meta["light_ids"] == [f"L{i:03d}" for i in range(8)]  # stage lights only: no sweep lights
    assert [l["id"] for l in meta["lights"]] == meta["light_ids"]
    assert meta["source"]["capture"] == str(cap.resolve())
    assert meta["pairs"][1][2] == "0" and meta["num_pairs"] == 31 and not meta["complete"]
    assert meta["color"]["space"] == "linear" and meta["color"]["source_color_space"] == "linear"
    seq = meta["sequences"][0]
    assert seq["name"] == "sweep_cam00" and seq["view"] == 0 and seq["fps"] == 24.0
    assert [l["id"] for l in seq["lights"]] == ["S000", "S001", "S002", "S003"] and seq["lights"][0]["type"] == "point"
    assert seq["stage_light_index"] == [-1] * 4
    assert splits["seed"] == 0 and splits["view_fraction"] == 0.75 and set(splits["counts"]) == set(BUCKETS)
    assert (out / "mesh.obj").is_file() and not out.with_name(out.name + ".tmp").exists()


def test_images_land_at_their_view_and_light(prepared, frame_value):
    _, out = prepared
    img = np.load(out / "arrays" / "images.npy")
    for v in range(4):
        for l in range(8):
            want = 0.0 if (v, l) == (1, 2) else frame_value(v, l)
            np.testing.assert_allclose(img[v, l], want, rtol=1e-3)
    seq = np.load(out / "arrays" / "seq_sweep_cam00.npy")
    np.testing.assert_allclose(seq[:, 0, 0, 0], [0, 0.5, 1.0, 1.5])


def test_gbuffers_are_consistent(prepared):
    d = PreparedData.open(prepared[1])
    m = d.mask.astype(bool)
    assert m.sum() > 4 * 100
    np.testing.assert_allclose(np.linalg.norm(d.normal[m], axis=-1), 1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(d.position[m], axis=-1), 0.7, atol=0.02)  # on the sphere
    assert (d.depth[m] > 2).all() and (d.uv[m] >= 0).all() and (d.uv[m] <= 1).all()
    assert not d.position[~m].any()


def test_splits_and_buckets(prepared):
    d = PreparedData.open(prepared[1])
    assert len(d.held_out_views) == 1 and len(d.held_out_lights) == 2
    train = d.pairs("train")
    assert not np.isin(train[:, 0], d.held_out_views).any()
    assert not np.isin(train[:, 1], d.held_out_lights).any()
    for b in BUCKETS:
        p = d.pairs(b)
        assert len(p) > 0, b
        assert d.pair_exists[p[:, 0], p[:, 1]].all()
    total = sum(len(d.pairs(b)) for b in BUCKETS)
    assert total == 31  # every existing pair in exactly one bucket
    nv = d.pairs("novel_view")
    assert np.isin(nv[:, 0], d.held_out_views).all() and not np.isin(nv[:, 1], d.held_out_lights).any()
    with pytest.raises(DataError, match="unknown"):
        d.pairs("val")


def test_explicit_split_file_is_reproduced(prepared, tmp_path):
    cap, _ = prepared
    f = tmp_path / "split.json"
    f.write_text(json.dumps({"held_out_views": ["cam02"], "held_out_lights": ["L001", "L006"]}))
    out = prep(cap, tmp_path / "out", split=f)
    s = json.loads((out / "splits.json").read_text())
    assert s["held_out_views"] == ["cam02"] and s["held_out_lights"] == ["L001", "L006"]
    assert s["seen_views"] == ["cam00", "cam01", "cam03"] and s["source"] == "file"
    d = PreparedData.open(out)
    assert d.held_out_views.tolist() == [2] and d.held_out_lights.tolist() == [1, 6]
    # a prepared dataset's own splits.json (with its counts and notes) is a valid --split
    again = json.loads((prep(cap, tmp_path / "again", split=out / "splits.json") / "splits.json").read_text())
    assert {k: again[k] for k in ("held_out_views", "held_out_lights", "counts")} == \
        {k: s[k] for k in ("held_out_views", "held_out_lights", "counts")}


def test_rerun_replaces_and_foreign_folder_is_refused(prepared, tmp_path):
    cap, _ = prepared
    out = prep(cap, tmp_path / "out", seed=1)
    (out / "stale.txt").write_text("x")
    prep(cap, out, seed=2)
    assert not (out / "stale.txt").exists()
    assert json.loads((out / "splits.json").read_text())["seed"] == 2
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="not a prepared dataset; refusing"):
        prep(cap, foreign)
    assert (foreign / "notes.txt").read_text() == "mine"


def _edit_capture(cap_path, fn):
    cap = load_capture(cap_path)
    fn(cap)
    save_capture(cap)


def test_missing_image_names_the_field(capture_factory):
    cap = capture_factory()
    frame = load_capture(cap).frames[3]
    (cap.parent / frame.image).unlink()
    with pytest.raises(CaptureError, match=r"^frames\[3\]\.image: file not found: images/cam00/L003\.exr$"):
        prep(cap, cap.parent.parent / "out")
    assert not (cap.parent.parent / "out").exists() and not (cap.parent.parent / "out.tmp").exists()


def test_wrong_size_image_cli_exit_code_2(capture_factory, capsys):
    cap = capture_factory(views=2, lights=4)
    frame = load_capture(cap).frames[3]
    write_exr(cap.parent / frame.image, np.zeros((16, 16, 3), np.float32))
    out = cap.parent.parent / "out"
    code = entrypoint(["prepare", str(cap), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert "frames[3].image: images/cam00/L003.exr is 16x16, camera cam00 is 32x32" in err
    assert "Traceback" not in err
    assert not out.exists() and not out.with_name("out.tmp").exists()


def test_bad_fraction_cli_exit_code_2(capture_factory, capsys):
    cap = capture_factory(views=2, lights=2)
    assert entrypoint(["prepare", str(cap), "--out", str(cap.parent.parent / "o"), "--view-fraction", "1.5"]) == 2
    err = capsys.readouterr().err
    assert "view-fraction: must be in (0, 1]" in err and "Traceback" not in err


def test_cameras_of_different_sizes(capture_factory):
    cap = capture_factory(views=2, lights=2)

    def shrink(c):
        c.cameras[1].width = 24

    _edit_capture(cap, shrink)
    with pytest.raises(DataError, match=r"cameras\[1\] \(cam01\): image size 24x32 differs"):
        prep(cap, cap.parent.parent / "out")


def test_saturated_pixels_and_frame_masks_go_to_valid(capture_factory):
    cap = capture_factory(views=2, lights=2)

    def to_png(c):
        for i, f in enumerate(c.frames):
            img = np.full((32, 32, 3), 0.25, np.float32)
            if i == 1:
                img[3, 4] = 1.0  # saturated
            f.image = f.image.replace(".exr", ".png")
            write_png(c.root / f.image, img, bits=16, color_space="linear")
        m = np.zeros((32, 32), np.float32)
        m[8:24, 8:24] = 1
        write_png(c.root / "masks/a.png", m, color_space="linear")
        m2 = m.copy()
        m2[8:12] = 0
        write_png(c.root / "masks/b.png", m2, color_space="linear")
        c.frames[0].mask = "masks/a.png"  # view 0: frames with different masks -> valid.npy
        c.frames[1].mask = "masks/b.png"
        c.frames[2].mask = "masks/a.png"  # view 1: one mask for all its frames -> folded into mask.npy
        c.frames[3].mask = "masks/a.png"

    _edit_capture(cap, to_png)
    out = prep(cap, cap.parent.parent / "out")
    d = PreparedData.open(out)
    assert d.valid is not None and d.valid.shape == (2, 2, 32, 32)
    assert not d.valid[0, 1, 3, 4] and not d.valid[0, 1, 8:12].any() and d.valid[0, 1, 12:24, 8:24].all()
    assert d.valid[0, 0, 8:24, 8:24].all() and not d.valid[0, 0, :8].any()
    assert d.valid[1].all()
    assert d.mask[0, :8].any()  # view 0's object mask is the rasterized one
    assert not d.mask[1, :8].any() and not d.mask[1, 24:].any() and d.mask[1, 8:24, 8:24].any()
    assert not d.normal[1, :8].any()  # G-buffers zeroed off the restricted mask
    np.testing.assert_allclose(d.images[1, 0, 16, 16], 0.25, rtol=1e-3)
    meta = json.loads((out / "prepared.json").read_text())
    assert meta["valid"] and meta["invalid_pixels"] == int((~d.valid).sum())


def test_mesh_without_uvs_is_unwrapped(capture_factory):
    cap = capture_factory(views=2, lights=2, uvs=False)
    out = prep(cap, cap.parent.parent / "out")
    meta = json.loads((out / "prepared.json").read_text())
    assert meta["mesh_unwrapped"]
    d = PreparedData.open(out)
    m = d.mask.astype(bool)
    assert d.uv[m].max() > 0.2  # an atlas, not zeros


def test_given_gbuffers_orthographic(tmp_path):
    """Single-view photometric-stereo style: no mesh, an orthographic camera with normal/mask files."""
    from neutex.capture import Camera, Capture, Frame, Light

    root = tmp_path / "ps"
    H = W = 16
    jj, ii = np.mgrid[0:H, 0:W]
    x, y = (ii - 7.5) / 6, (jj - 7.5) / 6
    mask = x**2 + y**2 < 1
    n = np.stack([x, -y, np.sqrt(np.clip(1 - x**2 - y**2, 0, 1))], -1) * mask[..., None]
    (root / "gb").mkdir(parents=True)
    np.save(root / "gb/normal.npy", n.astype(np.float32))
    np.save(root / "gb/mask.npy", mask)
    uv = np.stack([(ii + 0.5) / W, 1 - (jj + 0.5) / H], -1)  # the image plane, v up
    np.save(root / "gb/uv.npy", uv.astype(np.float32))
    w2c = np.diag([1.0, -1.0, -1.0, 1.0])  # looking down -z, world y up
    cam = Camera("view", W, H, w2c, "orthographic", scale=(6.0, 6.0), center=(7.5, 7.5),
                 gbuffer={"normal": "gb/normal.npy", "uv": "gb/uv.npy", "mask": "gb/mask.npy"})
    lights = [Light(f"L{i}", "directional", np.ones(3), direction=np.array([0.1 * i, 0.0, 1.0])) for i in range(4)]
    frames = []
    for i, l in enumerate(lights):
        write_exr(root / f"img/{i}.exr", np.full((H, W, 3), 0.1 * i, np.float32))
        frames.append(Frame("view", l.id, f"img/{i}.exr"))
    save_capture(Capture(root, [cam], lights, frames))
    out = prep(root / "capture.json", tmp_path / "out", light_fraction=0.5)
    d = PreparedData.open(out)
    assert d.meta["gbuffer_source"] == ["given"] and "mesh" not in d.meta
    np.testing.assert_array_equal(d.mask[0], mask)
    np.testing.assert_allclose(d.normal[0][mask], n[mask], atol=1e-6)
    assert d.depth[0][mask].max() == 0 and not d.uv[0][~mask].any()
    np.testing.assert_allclose(d.camera_sources[0], [0, 0, 1, 0], atol=1e-12)  # direction towards the camera
    # position is the image plane (camera z = 0): x right, world y up (row 0 at the top)
    assert d.position[0, 2, 7, 1] > 0.5 and d.position[0, 13, 7, 1] < -0.5
    # uv is the image plane, v up: top-left pixel has small u, large v
    assert d.uv[0, 2, 7, 0] == pytest.approx(7.5 / W) and d.uv[0, 2, 7, 1] == pytest.approx(1 - 2.5 / H)
    assert len(d.pairs("train")) == 2 and len(d.pairs("novel_light")) == 2
    assert len(d.pairs("novel_view")) == 0  # a single view cannot be held out


def test_open_checks_shapes(prepared, tmp_path):
    _, out = prepared
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    np.save(bad / "arrays" / "normal.npy", np.zeros((4, 32, 32, 2), np.float32))
    with pytest.raises(DataError, match=r"normal\.npy: expected shape \(4, 32, 32, 3\) float32, got \(4, 32, 32, 2\)"):
        PreparedData.open(bad)
    (bad / "arrays" / "images.npy").unlink()
    np.save(bad / "arrays" / "normal.npy", np.zeros((4, 32, 32, 3), np.float32))
    with pytest.raises(DataError, match=r"images\.npy: file not found \(expected \(4, 8, 32, 32, 3\) float16\)"):
        PreparedData.open(bad)
    with pytest.raises(DataError, match="not a prepared dataset"):
        PreparedData.open(tmp_path / "nothing")


def test_outside_paths_need_the_flag(capture_factory, capsys):
    cap = capture_factory(views=2, lights=2)
    other = cap.parent.parent / "other"
    other.mkdir()
    src = other / "L005.exr"
    src.write_bytes((cap.parent / "images/cam01/L001.exr").read_bytes())
    _edit_capture(cap, lambda c: setattr(c.frames[3], "image", "../other/L005.exr"))
    out = cap.parent.parent / "out"
    assert entrypoint(["prepare", str(cap), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "frames[3].image: ../other/L005.exr is outside the capture folder" in err and "--allow-outside-paths" in err
    assert not out.exists()
    assert entrypoint(["prepare", str(cap), "--out", str(out), "--no-progress", "--allow-outside-paths"]) == 0
    assert PreparedData.open(out).pair_exists.all()
