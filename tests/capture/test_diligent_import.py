"""`neutex import diligent`: values, conventions, masks, rows, and every bad input named."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import scipy.io
from capture_builders import (
    FRONT_LIGHT,
    FRONT_NORMAL_PIXEL,
    GRID_Q,
    H,
    LIST_ORDER,
    SATURATED,
    W,
    diligent_codes,
    diligent_directions,
    diligent_mask,
    diligent_normals,
)

from neutex.capture import load_capture, read_array_file, read_camera_gbuffer, read_mask, validate_files, write_png_codes
from neutex.capture.importers import detect_light_rows, import_diligent
from neutex.errors import CaptureError


@pytest.fixture
def imported(diligent_dir, tmp_path):
    import_diligent(diligent_dir, tmp_path / "out")
    return load_capture(tmp_path / "out")


def test_capture_loads_and_validates(imported):
    validate_files(imported)
    assert [c.id for c in imported.cameras] == ["cam00"]
    assert len(imported.lights) == len(imported.frames) == 12
    assert imported.mesh is None and imported.color_space == "linear"
    assert np.allclose(imported.up, [0, 1, 0])


def test_pixels_are_exact_codes_divided_by_intensity(imported, diligent_dir):
    codes = diligent_codes()
    intens = np.loadtxt(diligent_dir / "light_intensities.txt")
    for i, fr in enumerate(imported.frames):
        assert fr.light == f"L{i + 1:03d}"
        img = read_array_file(imported.root / fr.image)
        assert img.dtype == np.float32 and img.shape == (H, W, 3)
        want = codes[i].astype(np.float32) / np.float32(65535) / intens[i].astype(np.float32)
        np.testing.assert_array_equal(img, want)
        # the low byte survives: the codes come back exactly
        back = np.round(img.astype(np.float64) * intens[i] * 65535).astype(np.int64)
        np.testing.assert_array_equal(back, codes[i])
        assert np.array_equal(imported.light(fr.light).intensity, [1, 1, 1])


def test_without_dividing_the_lights_keep_their_intensity(diligent_dir, tmp_path):
    cap = import_diligent(diligent_dir, tmp_path / "raw", divide_intensity=False)
    intens = np.loadtxt(diligent_dir / "light_intensities.txt")
    img = read_array_file(cap.root / cap.frames[4].image)
    np.testing.assert_array_equal(img, diligent_codes()[4].astype(np.float32) / np.float32(65535))
    np.testing.assert_allclose(cap.lights[4].intensity, intens[4])


def test_light_directions_and_camera_conventions(imported, diligent_dir):
    cam = imported.cameras[0]
    R = cam.world_to_camera[:3, :3]
    dirs = np.loadtxt(diligent_dir / "light_directions.txt")
    np.testing.assert_allclose(dirs, diligent_directions(), atol=1e-8)
    for i, l in enumerate(imported.lights):
        assert l.type == "directional"
        np.testing.assert_allclose(l.direction, dirs[i] / np.linalg.norm(dirs[i]), atol=1e-12)
    # the light pointing at the viewer in DiLiGenT's frame points at the camera
    front = imported.lights[FRONT_LIGHT].direction
    assert np.dot(front, cam.forward_world) == pytest.approx(-1.0)
    # DiLiGenT x right / y up -> OpenCV camera x right (image right) / y down (image up is -y)
    right_light = R @ imported.lights[LIST_ORDER.index((1, 3))].direction  # x/z = 1.0, y/z = 0
    up_light = R @ imported.lights[LIST_ORDER.index((0, 1))].direction  # x/z = 0, y/z = 0.5
    assert right_light[0] > 0.5 and abs(right_light[1]) < 0.01 and right_light[2] < 0
    assert up_light[1] < -0.3 and abs(up_light[0]) < 0.01
    # world_to_camera is rigid and the camera sees the object plane z = 0 in front of it
    assert np.allclose(R @ R.T, np.eye(3)) and np.linalg.det(R) == pytest.approx(1.0)
    assert (cam.world_to_camera @ [0, 0, 0, 1])[2] > 0


def test_gbuffers_normal_uv_position(imported):
    cam = imported.cameras[0]
    g = read_camera_gbuffer(imported, cam)
    mask = diligent_mask()
    np.testing.assert_array_equal(g["mask"], mask)
    # normals: DiLiGenT's frame is the world frame; a normal facing the viewer is -forward
    np.testing.assert_allclose(g["normal"][FRONT_NORMAL_PIXEL], -cam.forward_world, atol=1e-7)
    np.testing.assert_allclose(g["normal"][mask], diligent_normals()[mask], atol=1e-7)
    assert (g["normal"][~mask] == 0).all()
    # a normal in a top row tilts up: in camera space it points to image-up (-y)
    top = (1, 3)
    assert (cam.world_to_camera[:3, :3] @ g["normal"][top])[1] < 0
    # uv: the image plane on [0,1]^2, v up, texel centres on pixel centres
    np.testing.assert_allclose(g["uv"][0, 0], [0.5 / W, 1 - 0.5 / H], atol=1e-7)
    np.testing.assert_allclose(g["uv"][H - 1, W - 1], [1 - 0.5 / W, 0.5 / H], atol=1e-7)
    # position: world points on z = 0 that project back onto their own pixel centres
    rows, cols = np.mgrid[0:H, 0:W]
    np.testing.assert_allclose(cam.project(g["position"]), np.stack([cols, rows], -1), atol=1e-5)
    assert np.allclose(g["position"][..., 2], 0)
    pc = g["position"] @ cam.world_to_camera[:3, :3].T + cam.world_to_camera[:3, 3]
    np.testing.assert_allclose(g["depth"], pc[..., 2], atol=1e-4)
    assert cam.model == "orthographic" and cam.scale == (1.0, 1.0) and cam.center == ((W - 1) / 2, (H - 1) / 2)


def test_saturated_pixels_are_masked_per_frame(imported):
    mask = diligent_mask()
    sat = {}
    for l, r, c, _ in SATURATED:
        sat.setdefault(l, set()).add((r, c))
    for i, fr in enumerate(imported.frames):
        m = read_mask(imported.root / fr.mask)
        want = mask.copy()
        for r, c in sat.get(i, ()):
            want[r, c] = False
        np.testing.assert_array_equal(m, want, err_msg=fr.mask)
    assert imported.generator["saturated_pixels"] == {"L004": 2, "L008": 1}


def test_rows_become_sequences_ordered_left_to_right(imported):
    assert [s.name for s in imported.sequences] == ["row00", "row01", "row02"]
    for r, seq in enumerate(imported.sequences):  # top row (y/z = 0.5) first
        want = [f"L{LIST_ORDER.index((r, c)) + 1:03d}" for c in range(len(GRID_Q))]
        assert seq.lights == want
        assert seq.frames == [f"images/{lid}.exr" for lid in want]
        assert seq.camera == "cam00"


def test_grid_rows_flag_is_checked(diligent_dir, tmp_path):
    cap = import_diligent(diligent_dir, tmp_path / "a", grid_rows=3)
    assert len(cap.sequences) == 3
    for n in (2, 4, 12):
        with pytest.raises(CaptureError, match=rf"light_directions.txt: wrong number of light rows: --grid-rows {n}, "
                                               r"but the lights form 3 rows \(of 4 lights\)"):
            import_diligent(diligent_dir, tmp_path / f"b{n}", grid_rows=n)


def test_no_sequences(diligent_dir, tmp_path):
    cap = import_diligent(diligent_dir, tmp_path / "a", sequences=False)
    assert cap.sequences == []


def _diligent_like_grid(cols=12, rows=8, roll_deg=3.0, yaw_deg=2.0, noise=2e-3, seed=0, width=0.6, height=0.45):
    """LEDs on a planar frame 1 unit away, rolled and yawed a little, jittered, shuffled."""
    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(np.linspace(-width, width, cols), np.linspace(height, -height, rows))
    pts = np.stack([gx.ravel(), gy.ravel(), np.ones(gx.size)], 1)
    a, b = np.radians(roll_deg), np.radians(yaw_deg)
    roll = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    yaw = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    pts = pts @ (yaw @ roll).T + rng.normal(0, noise, pts.shape)
    d = pts / np.linalg.norm(pts, axis=1, keepdims=True)
    perm = rng.permutation(len(d))
    true_row, true_col = np.divmod(np.arange(len(d)), cols)
    return d[perm], true_row[perm], true_col[perm]


@pytest.mark.parametrize("roll, yaw, noise", [(3.0, 2.0, 2e-3), (0.0, 0.0, 0.0), (-8.0, 10.0, 5e-3), (12.0, -20.0, 5e-3)])
def test_detect_rows_of_a_realistic_96_light_grid(roll, yaw, noise):
    d, true_row, true_col = _diligent_like_grid(roll_deg=roll, yaw_deg=yaw, noise=noise)
    rows = detect_light_rows(d)
    assert len(rows) == 8 and all(len(r) == 12 for r in rows)
    for r, row in enumerate(rows):
        assert (true_row[row] == r).all()
        assert list(true_col[row]) == list(range(12))


def test_detect_rows_more_cases():
    d, true_row, true_col = _diligent_like_grid()
    assert len(detect_light_rows(d, 8)) == 8
    with pytest.raises(CaptureError, match="wrong number of light rows"):
        detect_light_rows(d, 12)
    # a grid of rows closer together than its columns
    d2, tr2, tc2 = _diligent_like_grid(cols=5, rows=6, roll_deg=-2.0, height=0.15, noise=1e-3)
    rows2 = detect_light_rows(d2)
    assert [sorted(set(tr2[r])) for r in rows2] == [[i] for i in range(6)]
    assert all(list(tc2[r]) == list(range(5)) for r in rows2)
    # a sheared grid (rows tilted 8 degrees, columns upright)
    q, p = np.meshgrid(np.linspace(-0.5, 0.5, 6), np.linspace(0.4, -0.4, 5))
    p = p + np.tan(np.radians(8)) * q
    d3 = np.stack([q.ravel(), p.ravel(), np.ones(q.size)], 1)
    rows3 = detect_light_rows(d3 / np.linalg.norm(d3, axis=1, keepdims=True))
    assert rows3 == [list(range(r * 6, r * 6 + 6)) for r in range(5)]
    # a grid with a missing LED keeps its rows (one of them shorter)
    keep = ~((true_row == 3) & (true_col == 5))
    rows4 = detect_light_rows(d[keep])
    assert sorted(len(r) for r in rows4) == [11] + [12] * 7
    assert [sorted(set(true_row[keep][r])) for r in rows4] == [[i] for i in range(8)]


def test_detect_rows_rejects_a_scatter():
    rng = np.random.default_rng(5)
    d = np.c_[rng.uniform(-0.5, 0.5, (40, 2)), np.ones(40)]
    with pytest.raises(CaptureError, match="light_directions.txt: the lights form no clear grid rows"):
        detect_light_rows(d / np.linalg.norm(d, axis=1, keepdims=True))


# ----------------------------------------------------------------------------- normals files


@pytest.mark.parametrize("kind", ["npy", "txt"])
def test_normals_from_npy_or_txt(diligent_dir, tmp_path, kind):
    n = scipy.io.loadmat(diligent_dir / "Normal_gt.mat")["Normal_gt"]
    (diligent_dir / "Normal_gt.mat").unlink()
    if kind == "npy":
        np.save(diligent_dir / "Normal_gt.npy", n)
    else:
        np.savetxt(diligent_dir / "Normal_gt.txt", n.reshape(-1, 3), fmt="%.17g")
    cap = import_diligent(diligent_dir, tmp_path / "out")
    g = read_camera_gbuffer(cap, "cam00")
    np.testing.assert_allclose(g["normal"], diligent_normals(), atol=1e-7)
    assert cap.generator["normals"] == f"Normal_gt.{kind}"


def test_few_bad_normals_leave_the_mask_and_are_reported(diligent_dir, tmp_path):
    n = diligent_normals()
    big_mask = np.ones((H, W), bool)
    write_png_codes(diligent_dir / "mask.png", big_mask)
    n[0, 0] = 0  # one zero normal inside the (now larger) mask: 1/48 > 1 % -> error
    np.save(diligent_dir / "Normal_gt.npy", n)
    (diligent_dir / "Normal_gt.mat").unlink()
    with pytest.raises(CaptureError, match=r"Normal_gt.npy: \d+ of 48 pixels inside mask.png have no unit normal"):
        import_diligent(diligent_dir, tmp_path / "out")


# ----------------------------------------------------------------------------- bad inputs


def _one_line(exc_info) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg
    return msg


def test_missing_image(diligent_dir, tmp_path):
    (diligent_dir / "005.png").unlink()
    with pytest.raises(CaptureError, match=r"005.png: file not found \(filenames.txt line 5\)") as e:
        import_diligent(diligent_dir, tmp_path / "out")
    _one_line(e)
    assert not (tmp_path / "out" / "capture.json").exists()


def test_eight_bit_image(diligent_dir, tmp_path):
    write_png_codes(diligent_dir / "003.png", (diligent_codes()[2] >> 8).astype(np.uint8))
    with pytest.raises(CaptureError, match=r"003.png: 8-bit PNG; DiLiGenT images are 16-bit") as e:
        import_diligent(diligent_dir, tmp_path / "out")
    _one_line(e)


def test_mask_of_the_wrong_size(diligent_dir, tmp_path):
    write_png_codes(diligent_dir / "mask.png", np.ones((H + 1, W), bool))
    with pytest.raises(CaptureError, match=r"mask.png: mask is 8x7, the images are 8x6$") as e:
        import_diligent(diligent_dir, tmp_path / "out")
    _one_line(e)


def test_images_and_normals_of_the_wrong_size(diligent_dir, tmp_path):
    np.save(diligent_dir / "Normal_gt.npy", np.zeros((H + 1, W, 3)) + [0, 0, 1])
    (diligent_dir / "Normal_gt.mat").unlink()
    with pytest.raises(CaptureError, match=r"Normal_gt.npy: normals are float64 \(7, 8, 3\), expected \(6, 8, 3\) like the images"):
        import_diligent(diligent_dir, tmp_path / "out")
    write_png_codes(diligent_dir / "007.png", np.zeros((H, W + 1, 3), np.uint16))
    with pytest.raises(CaptureError, match=r"007.png: image is 9x6, 001.png is 8x6 \(one size for all\)"):
        import_diligent(diligent_dir, tmp_path / "out")


@pytest.mark.parametrize("fname", ["light_directions.txt", "light_intensities.txt"])
@pytest.mark.parametrize("delta", [-1, 1])
def test_text_rows_must_match_the_images(diligent_dir, tmp_path, fname, delta):
    rows = np.loadtxt(diligent_dir / fname)
    rows = rows[:-1] if delta < 0 else np.vstack([rows, rows[:1]])
    np.savetxt(diligent_dir / fname, rows)
    with pytest.raises(CaptureError, match=rf"{fname}: {12 + delta} rows for 12 images in filenames.txt") as e:
        import_diligent(diligent_dir, tmp_path / "out")
    _one_line(e)


def test_malformed_text_row(diligent_dir, tmp_path):
    lines = (diligent_dir / "light_directions.txt").read_text().splitlines()
    lines[6] = "0.1 abc 0.9"
    (diligent_dir / "light_directions.txt").write_text("\n".join(lines))
    with pytest.raises(CaptureError, match=r"light_directions.txt line 7: expected 3 numbers"):
        import_diligent(diligent_dir, tmp_path / "out")


def test_non_unit_direction_and_bad_intensity(diligent_dir, tmp_path):
    d = diligent_directions()
    d[2] *= 0.5
    np.savetxt(diligent_dir / "light_directions.txt", d)
    with pytest.raises(CaptureError, match=r"light_directions.txt line 3: not a unit vector"):
        import_diligent(diligent_dir, tmp_path / "out")
    np.savetxt(diligent_dir / "light_directions.txt", diligent_directions())
    i = np.loadtxt(diligent_dir / "light_intensities.txt")
    i[4, 1] = 0
    np.savetxt(diligent_dir / "light_intensities.txt", i)
    with pytest.raises(CaptureError, match=r"light_intensities.txt line 5: intensities must be positive"):
        import_diligent(diligent_dir, tmp_path / "out")


def test_missing_normals_and_wrong_variable(diligent_dir, tmp_path):
    scipy.io.savemat(diligent_dir / "Normal_gt.mat", {"N": diligent_normals()})
    with pytest.raises(CaptureError, match=r"Normal_gt.mat: no variable 'Normal_gt' \(has N\)"):
        import_diligent(diligent_dir, tmp_path / "out")
    (diligent_dir / "Normal_gt.mat").unlink()
    with pytest.raises(CaptureError, match=r"no ground-truth normals \(Normal_gt.mat, Normal_gt.npy, Normal_gt.txt\)"):
        import_diligent(diligent_dir, tmp_path / "out")


def test_matlab_v73_without_h5py(diligent_dir, tmp_path):
    pytest.importorskip("scipy")
    try:
        import h5py  # noqa: F401
        pytest.skip("h5py is installed: v7.3 files are read")
    except ImportError:
        pass
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .".ljust(116)
    (diligent_dir / "Normal_gt.mat").write_bytes(header + b"\0" * 8 + struct.pack("<H", 0x0200) + b"IM" + b"\0" * 512)
    with pytest.raises(CaptureError, match=r"Normal_gt.mat: MATLAB v7.3 \(HDF5\) file, which needs h5py") as e:
        import_diligent(diligent_dir, tmp_path / "out")
    _one_line(e)


def test_existing_output_needs_overwrite(diligent_dir, tmp_path):
    import_diligent(diligent_dir, tmp_path / "out")
    with pytest.raises(CaptureError, match="capture.json: already exists"):
        import_diligent(diligent_dir, tmp_path / "out")
    import_diligent(diligent_dir, tmp_path / "out", overwrite=True)


def test_truncated_image(diligent_dir, tmp_path):
    data = (diligent_dir / "009.png").read_bytes()
    (diligent_dir / "009.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(CaptureError, match=r"009.png: cannot decode PNG \(truncated or corrupt\)") as e:
        import_diligent(diligent_dir, tmp_path / "out")
    _one_line(e)
    assert not (tmp_path / "out" / "capture.json").exists()


def test_source_must_be_a_folder(tmp_path):
    with pytest.raises(CaptureError, match="not a folder"):
        import_diligent(tmp_path / "nope", tmp_path / "out")
