"""capture.json: a corpus of broken captures, each one clear line naming field and file;
conventions (OpenGL/Blender vs OpenCV, half-pixel centres); round trips."""

from __future__ import annotations

import json
import re

import numpy as np
import OpenEXR
import pytest
from capture_builders import H, W, write_json
from testkit import edit_json, set_at

from neutex.capture import (
    Camera,
    load_capture,
    look_at,
    parse_capture,
    pinhole_K,
    read_camera_gbuffer,
    save_capture,
    validate_files,
    write_exr,
    write_png_codes,
)
from neutex.errors import CaptureError


def _load(root):
    return json.loads((root / "capture.json").read_text())


def _check(root) -> None:
    validate_files(load_capture(root))


def test_valid_capture(capture_dir):
    cap = load_capture(capture_dir)
    validate_files(cap)
    assert [c.id for c in cap.cameras] == ["cam00", "cam01"]
    assert cap.frames[0].mask == "masks/cam00_L000.png"
    assert cap.sequences[0].lights == ["L000", "L001", "L002"]
    # a round trip through save_capture keeps everything
    save_capture(cap, capture_dir / "again.json")
    again = load_capture(capture_dir / "again.json")
    assert again.to_json() == cap.to_json()


def _scale(d):
    d["cameras"][1]["world_to_camera"][0] = [1.5 * v for v in d["cameras"][1]["world_to_camera"][0]]


#: (name, mutation of capture.json, regex of the whole message after "<path>/capture.json: ")
STRUCTURE_CASES = [
    ("non-rigid matrix", _scale, r"cameras\[1\]\.world_to_camera: not a rigid transform .*scale, shear or a mirror"),
    ("mirror matrix", set_at(["cameras", 0, "world_to_camera"], np.diag([1.0, 1, -1, 1]).tolist()),
     r"cameras\[0\]\.world_to_camera: not a rigid transform"),
    ("bad last row", set_at(["cameras", 0, "world_to_camera", 3], [0, 0, 1, 1]),
     r"cameras\[0\]\.world_to_camera: last row must be \[0, 0, 0, 1\]"),
    ("unknown camera id", set_at(["frames", 4, "camera"], "cam07"), r"frames\[4\]\.camera: unknown camera id 'cam07'"),
    ("unknown light id", set_at(["frames", 2, "light"], "L009"), r"frames\[2\]\.light: unknown light id 'L009'"),
    ("duplicate camera id", set_at(["cameras", 1, "id"], "cam00"),
     r"cameras\[1\]: duplicate id 'cam00' \(also cameras\[0\]\)"),
    ("duplicate light id", set_at(["lights", 2, "id"], "L000"), r"lights\[2\]: duplicate id 'L000' \(also lights\[0\]\)"),
    ("duplicate frame", set_at(["frames", 1, "light"], "L000"),
     r"frames\[1\]: duplicate frame for camera 'cam00' and light 'L000' \(also frames\[0\]\)"),
    ("wrong format string", set_at(["format"], "neutex-capture/2"),
     r"format: expected 'neutex-capture/1', got \"neutex-capture/2\""),
    ("misspelt key", set_at(["camera_conventon"], "opengl"), r"camera_conventon: unknown key \(expected one of: .*'x_'\)"),
    ("bad convention", set_at(["cameras", 0, "convention"], "directx"),
     r"cameras\[0\]\.convention: unknown convention 'directx' \(opencv, opengl, blender\)"),
    ("bad colour space", set_at(["color_space"], "rec709"), r"color_space: expected 'linear' or 'srgb', got 'rec709'"),
    ("NaN in K", set_at(["cameras", 0, "K", 0, 0], float("nan")), r"cameras\[0\]\.K: contains NaN or inf"),
    ("width as text", set_at(["cameras", 0, "width"], "8"), r"cameras\[0\]\.width: expected an integer, got \"8\""),
    ("width as bool", set_at(["cameras", 0, "width"], True), r"cameras\[0\]\.width: expected an integer, got true"),
    ("sequence with a foreign frame", set_at(["sequences", 0, "lights"], ["L001", "L000", "L002"]),
     r"sequences\[0\]\.frames\[0\]: images/cam00/L000.png is frames\[0\]\.image \(camera 'cam00', light 'L000'\), "
     r"but the sequence gives camera 'cam00', light 'L001'"),
    ("sequence name", set_at(["sequences", 0, "name"], "row 1"), r"sequences\[0\]\.name: 'row 1': use only letters"),
    ("no mesh, no gbuffer", lambda d: d.pop("mesh"), r"mesh: missing, and cameras\[0\] \(cam00\) gives no gbuffer"),
    ("both poses", set_at(["cameras", 0, "camera_to_world"], np.eye(4).tolist()),
     r"cameras\[0\]: give exactly one of world_to_camera and camera_to_world"),
    ("unknown gbuffer", set_at(["cameras", 0, "gbuffer"], {"normal": "n.exr", "uv": "u.exr", "mask": "m.png", "albedo": "a.exr"}),
     r"cameras\[0\]\.gbuffer\.albedo: unknown G-buffer"),
]


@pytest.mark.parametrize("name, mutate, message", STRUCTURE_CASES, ids=[c[0] for c in STRUCTURE_CASES])
def test_broken_structure(capture_dir, name, mutate, message):
    edit_json(capture_dir / "capture.json", mutate)
    with pytest.raises(CaptureError) as e:
        load_capture(capture_dir)
    msg = str(e.value)
    assert "\n" not in msg
    prefix = f"{capture_dir / 'capture.json'}: "
    assert msg.startswith(prefix), msg
    assert re.match(message, msg[len(prefix):]), msg


def test_invalid_json(capture_dir):
    text = (capture_dir / "capture.json").read_text()
    (capture_dir / "capture.json").write_text(text.replace('"cameras":', '"cameras"', 1))
    with pytest.raises(CaptureError, match=r"capture.json: invalid JSON at line \d+ column \d+: Expecting ':' delimiter$"):
        load_capture(capture_dir)
    with pytest.raises(CaptureError, match=r"nowhere: file not found$"):
        load_capture(capture_dir / "nowhere")


def _break_file(root, rel, how):
    p = root / rel
    if how == "delete":
        p.unlink()
    elif how == "truncate":
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 2])
    elif how == "resize":
        write_png_codes(p, np.zeros((H + 2, W, 3), np.uint16))


FILE_CASES = [
    ("missing image", "images/cam01/L002.exr", "delete", r"frames\[5\]\.image: file not found: images/cam01/L002.exr"),
    ("missing mask", "masks/cam00_L000.png", "delete", r"frames\[0\]\.mask: file not found: masks/cam00_L000.png"),
    ("missing mesh", "mesh.obj", "delete", r"mesh: file not found: mesh.obj"),
    ("truncated png", "images/cam00/L001.png", "truncate",
     r"frames\[1\]\.image: images/cam00/L001.png: cannot decode PNG \(truncated or corrupt\)"),
    ("truncated exr", "images/cam01/L000.exr", "truncate",
     r"frames\[3\]\.image: images/cam01/L000.exr: not a readable EXR \(truncated or corrupt\)$"),
    ("wrong image size", "images/cam00/L002.png", "resize",
     r"frames\[2\]\.image: images/cam00/L002.png is 8x8, camera cam00 is 8x6"),
    ("wrong mask size", "masks/cam00_L000.png", "resize",
     r"frames\[0\]\.mask: masks/cam00_L000.png is 8x8, camera cam00 is 8x6"),
]


@pytest.mark.parametrize("name, rel, how, message", FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_broken_files(capture_dir, name, rel, how, message):
    _break_file(capture_dir, rel, how)
    cap = load_capture(capture_dir)
    with pytest.raises(CaptureError) as e:
        validate_files(cap)
    msg = str(e.value)
    assert "\n" not in msg
    assert re.fullmatch(message, msg), msg


def test_nan_pixel(capture_dir):
    img = np.ones((H, W, 3), np.float32)
    img[3, 5, 1] = np.nan
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    with OpenEXR.File(header, {"RGB": img}) as f:
        f.write(str(capture_dir / "images/cam01/L001.exr"))
    with pytest.raises(CaptureError, match=r"^frames\[4\]\.image: images/cam01/L001.exr: 1 pixels are NaN or inf "
                                           r"\(first at row 3, column 5\)$"):
        validate_files(load_capture(capture_dir))


def test_sequence_frame_missing(capture_dir):
    edit_json(capture_dir / "capture.json", set_at(["sequences", 0, "frames", 2], "sweeps/S002.exr"))
    edit_json(capture_dir / "capture.json", set_at(["sequences", 0, "lights", 2], "L002"))
    with pytest.raises(CaptureError, match=r"^sequences\[0\]\.frames\[2\]: file not found: sweeps/S002.exr$"):
        validate_files(load_capture(capture_dir))


def _outside(capture_dir, how):
    """Point frames[4].image at a copy of the file outside the capture folder (``how``: dotdot,
    absolute or symlink); return the path as written in capture.json."""
    other = capture_dir.parent / "other" / "images" / "cam01"
    other.mkdir(parents=True)
    src = other / "L005.exr"
    src.write_bytes((capture_dir / "images/cam01/L001.exr").read_bytes())
    if how == "dotdot":
        rel = "images/cam01/../../../other/images/cam01/L005.exr"
    elif how == "absolute":
        rel = str(src)
    else:
        rel = "images/cam01/link.exr"
        (capture_dir / rel).symlink_to(src)
    edit_json(capture_dir / "capture.json", set_at(["frames", 4, "image"], rel))
    return rel


@pytest.mark.parametrize("how, why", [("dotdot", r"'\.\.' leads out of it"), ("absolute", "an absolute path"),
                                      ("symlink", "a symlink to .*/other/images/cam01/L005.exr")])
def test_paths_outside_the_capture_folder_are_refused(capture_dir, how, why):
    rel = _outside(capture_dir, how)
    cap = load_capture(capture_dir)
    with pytest.raises(CaptureError) as e:
        validate_files(cap, check_pixels=False)
    assert re.fullmatch(rf"frames\[4\]\.image: {re.escape(rel)} is outside the capture folder \({why}\)", str(e.value))
    assert "--allow-outside-paths" in e.value.hint
    validate_files(cap, allow_outside=True)  # on purpose: read where it is


@pytest.mark.parametrize("field", ["map", "image"])
def test_environment_files_outside_the_capture_folder_are_refused(capture_dir, field):
    """The environments' maps and frames go through the same containment check as the frames."""
    from neutex.capture.environments import Environment, EnvironmentFrame

    cap = load_capture(capture_dir)
    outside = "../elsewhere/sky.exr"
    env = Environment("sky", outside if field == "map" else "images/cam01/L001.exr",
                      frames=[EnvironmentFrame(cap.cameras[0].id, outside if field == "image" else "images/cam00/L000.exr")])
    cap.environments = [env]
    where = r"environments\[0\]\.map" if field == "map" else r"environments\[0\]\.frames\[0\]\.image"
    with pytest.raises(CaptureError, match=rf"^{where}: \.\./elsewhere/sky\.exr is outside the capture folder"):
        validate_files(cap, check_pixels=False)


def test_paths_inside_the_capture_folder_are_fine(capture_dir):
    (capture_dir / "images/cam01/link.exr").symlink_to(capture_dir / "images/cam01/L001.exr")  # a link inside
    edit_json(capture_dir / "capture.json", set_at(["frames", 4, "image"], "images/cam00/../cam01/link.exr"))
    validate_files(load_capture(capture_dir))


def test_without_pixel_checks_only_existence(capture_dir):
    _break_file(capture_dir, "images/cam00/L001.png", "truncate")
    validate_files(load_capture(capture_dir), check_pixels=False)


# ----------------------------------------------------------------------------- conventions


def _gl_world_to_camera(eye, target, up) -> np.ndarray:
    """An OpenGL/Blender view matrix from first principles: camera x right, y up, looking down -z."""
    eye, target, up = (np.asarray(v, float) for v in (eye, target, up))
    back = eye - target
    back /= np.linalg.norm(back)
    right = np.cross(up, back)
    right /= np.linalg.norm(right)
    cam_up = np.cross(back, right)
    m = np.eye(4)
    m[:3, :3] = np.stack([right, cam_up, back])
    m[:3, 3] = -m[:3, :3] @ eye
    return m


def _cam_json(**kw):
    d = {"id": "c", "width": W, "height": H, "K": pinhole_K(W, H, 50).tolist()}
    d.update(kw)
    return d


def _parse(cameras, **top):
    d = {"format": "neutex-capture/1", "mesh": "m.obj", "cameras": cameras,
         "lights": [{"id": "L", "type": "directional", "direction": [0, 0, 1]}],
         "frames": [{"camera": cameras[0]["id"], "light": "L", "image": "a.png"}], **top}
    return parse_capture(d, "/tmp")


@pytest.mark.parametrize("eye", [[0.3, -3.0, 1.2], [2.0, 1.0, -0.5], [0.01, 0.02, 4.0]])
def test_opengl_and_opencv_give_the_same_camera(eye):
    target, up = [0.1, 0.0, 0.2], [0, 0, 1]
    w2c_cv = look_at(eye, target, up)
    w2c_gl = _gl_world_to_camera(eye, target, up)
    c2w_gl = np.linalg.inv(w2c_gl)
    cams = {
        "opencv": _parse([_cam_json(world_to_camera=w2c_cv.tolist())]),
        "top-level opengl": _parse([_cam_json(world_to_camera=w2c_gl.tolist())], camera_convention="opengl"),
        "per-camera blender": _parse([_cam_json(world_to_camera=w2c_gl.tolist(), convention="blender")]),
        "blender camera_to_world": _parse([_cam_json(camera_to_world=c2w_gl.tolist())], camera_convention="blender"),
        "per-camera opencv overrides": _parse([_cam_json(world_to_camera=w2c_cv.tolist(), convention="opencv")],
                                              camera_convention="opengl"),
    }
    for name, cap in cams.items():
        np.testing.assert_allclose(cap.cameras[0].world_to_camera, w2c_cv, atol=1e-12, err_msg=name)
    cam = cams["top-level opengl"].cameras[0]
    # physically: the target is in front (OpenCV +z) and projects near the centre; a point
    # above the target (world up) is higher in the image (smaller row)
    px = cam.project(np.array([target, np.add(target, [0, 0, 0.1])]))
    assert (cam.world_to_camera @ np.r_[target, 1])[2] > 0
    np.testing.assert_allclose(px[0], [(W - 1) / 2, (H - 1) / 2], atol=1e-9)
    assert px[1, 1] < px[0, 1]
    np.testing.assert_allclose(cam.forward_world, np.subtract(target, eye) / np.linalg.norm(np.subtract(target, eye)))


def test_saved_capture_is_opencv(tmp_path):
    w2c_gl = _gl_world_to_camera([0, -3, 1], [0, 0, 0], [0, 0, 1])
    cap = _parse([_cam_json(world_to_camera=w2c_gl.tolist())], camera_convention="opengl")
    cap.root = tmp_path
    save_capture(cap)
    d = _load(tmp_path)
    assert "camera_convention" not in d and "convention" not in d["cameras"][0]
    np.testing.assert_allclose(load_capture(tmp_path).cameras[0].world_to_camera, cap.cameras[0].world_to_camera)


def test_pixel_centres_at_integers():
    cam = Camera("c", W, H, look_at([0, 0, -2], [0, 0, 0], [0, -1, 0]), K=pinhole_K(W, H, 60))
    np.testing.assert_allclose(cam.project(np.zeros(3)), [(W - 1) / 2, (H - 1) / 2])
    ortho = _parse([_cam_json(model="orthographic", scale=4, world_to_camera=np.eye(4).tolist())]).cameras[0]
    assert ortho.scale == (4.0, 4.0) and ortho.center == ((W - 1) / 2, (H - 1) / 2)
    np.testing.assert_allclose(ortho.project(np.array([0.25, -0.5, 3.0])), [(W - 1) / 2 + 1, (H - 1) / 2 - 2])


def test_light_intensity_forms():
    d = {"format": "neutex-capture/1", "mesh": "m.obj", "cameras": [_cam_json(world_to_camera=np.eye(4).tolist())],
         "lights": [{"id": "a", "type": "point", "position": [0, 0, 1], "intensity": 3},
                    {"id": "b", "type": "directional", "direction": [0, 0, 2]},
                    {"id": "c", "type": "point", "position": [0, 0, 1], "intensity": [1, 2, 3], "x_note": "mine"}],
         "frames": [{"camera": "c", "light": "a", "image": "a.png"}]}
    cap = parse_capture(d, "/tmp")
    np.testing.assert_array_equal(cap.lights[0].intensity, [3, 3, 3])
    np.testing.assert_array_equal(cap.lights[1].intensity, [1, 1, 1])
    np.testing.assert_array_equal(cap.lights[1].direction, [0, 0, 1])
    d["lights"][0]["intensity"] = [1, -1, 1]
    with pytest.raises(CaptureError, match=r"^lights\[0\]\.intensity: must be non-negative$"):
        parse_capture(d, "/tmp")


# ----------------------------------------------------------------------------- given G-buffers


@pytest.fixture
def gbuffer_capture(tmp_path):
    root = tmp_path / "g"
    n = np.zeros((H, W, 3), np.float32)
    n[..., 2] = 1
    rows, cols = np.mgrid[0:H, 0:W]
    uv = np.stack([(cols + 0.5) / W, 1 - (rows + 0.5) / H], -1).astype(np.float32)
    write_exr(root / "gb/normal.exr", n, half=False)
    write_exr(root / "gb/uv.exr", uv, half=False)
    write_png_codes(root / "gb/mask.png", np.ones((H, W), bool))
    write_png_codes(root / "img.png", np.zeros((H, W, 3), np.uint16))
    cam = {"id": "c", "model": "orthographic", "width": W, "height": H, "scale": [1, 1], "world_to_camera": np.eye(4).tolist(),
           "gbuffer": {"normal": "gb/normal.exr", "uv": "gb/uv.exr", "mask": "gb/mask.png"}}
    write_json(root / "capture.json", {"format": "neutex-capture/1", "cameras": [cam],
                                       "lights": [{"id": "L", "type": "directional", "direction": [0, 0, -1]}],
                                       "frames": [{"camera": "c", "light": "L", "image": "img.png"}]})
    return root


def test_given_gbuffers(gbuffer_capture):
    cap = load_capture(gbuffer_capture)
    validate_files(cap)
    g = read_camera_gbuffer(cap, "c")
    assert g["normal"].shape == (H, W, 3) and g["uv"].shape == (H, W, 2) and g["mask"].dtype == bool
    assert "position" not in g


def test_given_gbuffer_errors(gbuffer_capture):
    n = np.zeros((H, W, 3), np.float32)
    n[..., 2] = 0.5
    write_exr(gbuffer_capture / "gb/normal.exr", n, half=False)
    with pytest.raises(CaptureError, match=r"^cameras\[0\]\.gbuffer\.normal: gb/normal.exr: 48 object pixels have no unit normal"):
        validate_files(load_capture(gbuffer_capture))
    write_exr(gbuffer_capture / "gb/normal.exr", n[:4], half=False)
    with pytest.raises(CaptureError, match=r"^cameras\[0\]\.gbuffer\.normal: gb/normal.exr is 8x4, camera c is 8x6$"):
        validate_files(load_capture(gbuffer_capture))
    (gbuffer_capture / "gb/uv.exr").unlink()
    with pytest.raises(CaptureError, match=r"^cameras\[0\]\.gbuffer\.uv: file not found: gb/uv.exr$"):
        validate_files(load_capture(gbuffer_capture))
