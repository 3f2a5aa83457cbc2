"""The bad-input corpus: broken captures, images, meshes, masks, split files, prepared arrays,
configs and checkpoints, each run through the real CLI entry point as a careful but unlucky
user would. Each must end in exit code 2 with exactly one error line (and at most one
"fix:" line) naming the file or field at fault: no traceback, no line from the libraries
underneath (OpenCV, OpenEXR, torch), nothing on stdout, and no input file changed.

Every case copies one of three tiny valid bases (a capture, a prepared dataset, a trained run;
the first test checks that they are valid) and breaks one thing.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from builders import RES, tree_digest, write_tiny_capture
from testkit import edit_json, set_at

from neutex.capture import write_exr, write_png_codes
from neutex.cli import entrypoint
from neutex.data.synthetic import write_synthetic_prepared

#: what a library line looks like (OpenCV "[ WARN:0@0.008] ...", OpenEXR, Python warnings)
LIBRARY_NOISE = re.compile(r"WARN|[Ww]arning|Traceback|libpng|OpenEXR|Iex::|EXR_ERR|grfmt|RuntimeError|Exception")

#: the tiny train flags every train case starts from (plus its own)
TRAIN = ["--epochs", "1", "--perceptual", "off", "--model.texture-res", "16", "--model.unet-depth", "2",
         "--model.unet-width", "4", "--model.unet-max-width", "8", "--schedule.pairs-per-epoch", "2",
         "--schedule.val-images", "1", "--schedule.sweep-frames", "3", "--threads", "1"]


@dataclass
class Case:
    """One broken input: which base it copies, how it breaks it, the command line, and the
    text the error line must hold (the file or field at fault, and the problem)."""

    id: str
    base: str  # capture | prepared | run
    breaks: Callable[[Path], None]
    argv: Callable[[Path, Path], list[str]]  # (the broken copy, the case's tmp folder) -> argv
    names: tuple[str, ...]
    egl: bool = False  # it gets as far as rasterizing G-buffers
    talks: bool = False  # it starts training, so neutex's own lines ('training ...') come first
    extra_inputs: Callable[[Path], list[Path]] = field(default=lambda tmp: [])


# ----------------------------------------------------------------------------- builders of cases

def _prepare(cap: Path, tmp: Path, *extra: str) -> list[str]:
    return ["prepare", str(cap), "--out", str(tmp / "out"), "--no-progress", *extra]


def capture_json(id: str, fn: Callable[[dict], None], *names: str) -> Case:
    """capture.json edited by ``fn``; found before any file is read."""
    return Case(id, "capture", lambda root: edit_json(root / "capture.json", fn), _prepare, names)


def capture_file(id: str, fn: Callable[[Path], None], *names: str, egl: bool = True) -> Case:
    """A file of the capture broken by ``fn(root)``; most are read after the G-buffers."""
    return Case(id, "capture", fn, _prepare, names, egl)


def split_file(id: str, content: str | None, *names: str) -> Case:
    def argv(cap: Path, tmp: Path) -> list[str]:
        split = tmp / "split.json"
        if content is not None:
            split.write_text(content)
        return _prepare(cap, tmp, "--split", str(split))

    return Case(id, "capture", lambda root: None, argv, names, extra_inputs=lambda tmp: [tmp / "split.json"])


def prepared(id: str, fn: Callable[[Path], None], *names: str, talks: bool = False) -> Case:
    """A prepared dataset broken by ``fn(root)``, trained on."""
    return Case(id, "prepared", fn, lambda p, tmp: ["train", "--data", str(p), "--out", str(tmp / "run"), *TRAIN],
                names, talks=talks)


def train_flags(id: str, flags: list[str], *names: str) -> Case:
    """A valid dataset, a bad flag."""
    return Case(id, "prepared", lambda root: None,
                lambda p, tmp: ["train", "--data", str(p), "--out", str(tmp / "run"), *TRAIN, *flags], names)


def run_folder(id: str, fn: Callable[[Path], None], argv: Callable[[Path], list[str]], *names: str) -> Case:
    """A trained run broken by ``fn(run)``, then evaluated (or resumed)."""
    return Case(id, "run", fn, lambda run, tmp: argv(run), names)


# ----------------------------------------------------------------------------- ways to break things

def _write(rel: str, data: bytes | str) -> Callable[[Path], None]:
    def fn(root: Path):
        p = root / rel
        p.unlink(missing_ok=True)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)
    return fn


def _cut(rel: str, keep: float = 0.5) -> Callable[[Path], None]:
    def fn(root: Path):
        data = (root / rel).read_bytes()
        (root / rel).write_bytes(data[: int(len(data) * keep)])
    return fn


def _exr(rel: str, img) -> Callable[[Path], None]:
    def fn(root: Path):
        write_exr(root / rel, img, half=False)
    return fn


def _nan_exr(rel: str) -> Callable[[Path], None]:
    def fn(root: Path):
        import OpenEXR

        img = np.full((RES, RES, 3), 0.3, np.float32)
        img[5, 7, 1] = np.nan  # write_exr refuses NaN: written with OpenEXR itself
        header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
        with OpenEXR.File(header, {"RGB": img}) as f:
            f.write(str(root / rel))
    return fn


def _redirect_frame(rel: str, how: str) -> Callable[[Path], None]:
    """Point frames[4].image at a copy of its file outside the capture folder."""
    def fn(root: Path):
        other = root.parent / "other" / "images" / "cam01"
        other.mkdir(parents=True)
        (other / "L005.exr").write_bytes((root / "images/cam01/L001.exr").read_bytes())
        if how == "symlink":
            (root / rel).symlink_to(other / "L005.exr")
        value = str(other / "L005.exr") if how == "absolute" else rel
        edit_json(root / "capture.json", set_at(["frames", 4, "image"], value))
    return fn


def _truncated_jpeg(root: Path) -> None:
    from PIL import Image

    p = root / "images/cam01/L000.jpg"
    Image.fromarray(np.full((RES, RES, 3), 90, np.uint8)).save(p, quality=90)
    p.write_bytes(p.read_bytes()[:200])
    edit_json(root / "capture.json", set_at(["frames", 3, "image"], "images/cam01/L000.jpg"))


def _mesh_out_of_view(root: Path) -> None:
    from neutex.capture import look_at

    edit_json(root / "capture.json", set_at(["cameras", 1, "world_to_camera"],
                                          look_at([3, -3, 0.8], [3, 5, 0.8], [0, 0, 1]).tolist()))


def _all_black(root: Path) -> None:
    for p in (root / "images" / "cam00").glob("*.png"):
        write_png_codes(p, np.zeros((RES, RES, 3), np.uint16))
    for p in (root / "images" / "cam01").glob("*.exr"):
        write_exr(p, np.zeros((RES, RES, 3), np.float32))


def _markup_name(root: Path) -> None:
    edit_json(root / "capture.json", set_at(["frames", 4, "image"], "images/[red]x[/red].exr"))


def _bracket_folder(root: Path) -> None:
    """The capture moved into 'scan [v2]' (and its capture.json broken, to be refused)."""
    (root / "scan [v2]").mkdir()
    for p in list(root.iterdir()):
        if p.name != "scan [v2]":
            shutil.move(p, root / "scan [v2]" / p.name)
    (root / "scan [v2]" / "capture.json").write_text('{"format": "neutex-capture/1",')


def _corner_mask(root: Path) -> None:
    m = np.zeros((RES, RES), bool)
    m[0, 0] = True  # a corner: not on the sphere
    write_png_codes(root / "masks/corner.png", m)
    edit_json(root / "capture.json", set_at(["frames", 4, "mask"], "masks/corner.png"))


def _images_npy(fn: Callable[[np.ndarray], np.ndarray | None]) -> Callable[[Path], None]:
    def edit(root: Path):
        p = root / "arrays" / "images.npy"
        a = np.load(p)
        out = fn(a)
        np.save(p, a if out is None else out)
    return edit


def _nan_images(a: np.ndarray) -> None:
    a[:, :, 8, 8] = np.nan  # on the sphere of every view


def _first_checkpoint_only(run: Path) -> None:
    shutil.rmtree(run / "checkpoints")


def _torch_save(rel: str, obj) -> Callable[[Path], None]:
    def fn(run: Path):
        torch.save(obj, run / rel)
    return fn


def _other_weights(run: Path) -> None:
    st = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    st["model"] = {k: torch.zeros(3) for k in st["model"]}
    torch.save(st, run / "checkpoints" / "last.pt")


def _eval(*extra: str) -> Callable[[Path], list[str]]:
    return lambda run: ["eval", str(run), "--max-images", "1", *extra]


def _resume(*extra: str) -> Callable[[Path], list[str]]:
    def argv(run: Path) -> list[str]:
        cfg = run / "config.json"
        data = json.loads(cfg.read_text())["data"]["path"] if cfg.is_file() else str(run.parent / "prepared")
        return ["train", "--data", data, "--out", str(run), *TRAIN, "--resume", *extra]
    return argv


CASES: list[Case] = [
    # --- capture.json
    capture_file("json-truncated", _cut("capture.json", 0.1), "capture.json: invalid JSON at line", egl=False),
    capture_file("json-top-level-list", _write("capture.json", "[]"), "capture/capture.json: expected a JSON object at the top level, got list",
                 egl=False),
    capture_file("json-not-utf8", _write("capture.json", b'{"format": "\xff\xfe"}'), "capture.json: not UTF-8 text",
                 egl=False),
    Case("capture-not-there", "capture", lambda root: None, lambda cap, tmp: _prepare(cap / "nope", tmp),
         ("capture/nope: file not found",)),
    capture_json("format", set_at(["format"], "neutex-capture/2"), "capture.json: format: expected 'neutex-capture/1'"),
    capture_json("unknown-key", set_at(["camras"], []), "camras: unknown key"),
    capture_json("K-shape", set_at(["cameras", 0, "K"], [[1, 0], [0, 1]]), "cameras[0].K: expected shape (3, 3)"),
    capture_json("K-negative-focal", set_at(["cameras", 0, "K", 0, 0], -40.0),
                 "cameras[0].K: expected [[fx,s,cx],[0,fy,cy],[0,0,1]] with fx, fy > 0"),
    capture_json("pose-scaled", set_at(["cameras", 1, "world_to_camera", 0], [2.0, 0, 0, 0]),
                 "cameras[1].world_to_camera: not a rigid transform"),
    capture_json("pose-nan", set_at(["cameras", 1, "world_to_camera", 0, 3], math.nan),
                 "cameras[1].world_to_camera: contains NaN or inf"),
    capture_json("width-zero", set_at(["cameras", 0, "width"], 0), "cameras[0].width: image size must be positive"),
    capture_json("camera-model", set_at(["cameras", 0, "model"], "fisheye"), "cameras[0].model: unknown camera model"),
    capture_json("camera-id-markup", set_at(["frames", 0, "camera"], "cam[/bold]00"),
                 "frames[0].camera: unknown camera id 'cam[/bold]00'"),
    capture_json("camera-duplicate", set_at(["cameras", 1, "id"], "cam00"), "cameras[1]: duplicate id 'cam00'"),
    capture_json("light-duplicate", set_at(["lights", 1, "id"], "L000"), "lights[1]: duplicate id 'L000'"),
    capture_json("light-type", set_at(["lights", 0, "type"], "spot"), "lights[0].type: unknown light type 'spot'"),
    capture_json("light-zero-direction", set_at(["lights", 0], {"id": "L000", "type": "directional", "direction": [0, 0, 0]}),
                 "lights[0].direction: must be non-zero"),
    capture_json("light-negative", set_at(["lights", 2, "intensity"], [1, -1, 1]), "lights[2].intensity: must be non-negative"),
    capture_json("frame-unknown-light", set_at(["frames", 1, "light"], "L999"), "frames[1].light: unknown light id 'L999'"),
    capture_json("frame-duplicate", lambda d: d["frames"].__setitem__(1, dict(d["frames"][0])),
                 "frames[1]: duplicate frame for camera 'cam00' and light 'L000'"),
    capture_json("frame-image-number", set_at(["frames", 2, "image"], 3), "frames[2].image: expected a string"),
    capture_json("frames-empty", set_at(["frames"], []), "frames: at least one frame is required"),
    capture_json("cameras-empty", set_at(["cameras"], []), "cameras: at least one camera is required"),
    capture_json("sequence-name", set_at(["sequences", 0, "name"], "a/b"), "sequences[0].name: 'a/b'"),
    capture_json("sequence-lengths", lambda d: d["sequences"][0]["frames"].pop(), "sequences[0].frames: 2 frames for 3"),
    capture_json("no-mesh", lambda d: d.pop("mesh"), "mesh: missing, and cameras[0] (cam00) gives no gbuffer"),
    capture_json("mesh-missing", set_at(["mesh"], "meshes/none.obj"), "mesh: file not found: meshes/none.obj"),
    capture_json("image-missing-markup-name", set_at(["frames", 4, "image"], "images/[red]x[/red].exr"),
                 "frames[4].image: file not found: images/[red]x[/red].exr"),
    capture_file("image-dotdot", _redirect_frame("../other/images/cam01/L005.exr", "dotdot"),
                 "frames[4].image: ../other/images/cam01/L005.exr is outside the capture folder ('..' leads out of it)",
                 egl=False),
    capture_file("image-absolute", _redirect_frame("", "absolute"), "frames[4].image: /", "is outside the capture folder",
                 egl=False),
    capture_file("image-symlink-out", _redirect_frame("images/cam01/link.exr", "symlink"),
                 "frames[4].image: images/cam01/link.exr is outside the capture folder (a symlink to", egl=False),
    capture_file("folder-with-brackets", _bracket_folder, "scan [v2]/capture.json: invalid JSON", egl=False),
    # --- images
    capture_file("exr-truncated", _cut("images/cam01/L001.exr"),
                 "frames[4].image: images/cam01/L001.exr: not a readable EXR (truncated or corrupt)"),
    capture_file("exr-random-bytes", _write("images/cam01/L002.exr", np.random.default_rng(1).bytes(600)),
                 "frames[5].image: images/cam01/L002.exr: not a readable EXR (truncated or corrupt)"),
    capture_file("png-truncated", _cut("images/cam00/L001.png", 0.6),
                 "frames[1].image: images/cam00/L001.png: cannot decode PNG (truncated or corrupt)"),
    capture_file("png-not-a-png", _write("images/cam00/L002.png", "P6 16 16 255\n"),
                 "frames[2].image: images/cam00/L002.png: not a PNG file"),
    capture_file("exr-nan", _nan_exr("images/cam01/L000.exr"),
                 "frames[3].image: images/cam01/L000.exr: 1 pixels are NaN or inf (first at row 5, column 7)"),
    capture_file("exr-beyond-float16", _exr("images/cam01/L000.exr", np.full((RES, RES, 3), 1e6, np.float32)),
                 "frames[3].image: images/cam01/L000.exr: values up to 1e+06 exceed the float16 range"),
    capture_file("exr-two-channels", _exr("images/cam01/L000.exr", np.full((RES, RES, 2), 0.5, np.float32)),
                 "frames[3].image: images/cam01/L000.exr: EXR has only R and G channels"),
    capture_file("image-wrong-size", _exr("images/cam01/L000.exr", np.full((8, 8, 3), 0.5, np.float32)),
                 "frames[3].image: images/cam01/L000.exr is 8x8, camera cam01 is 16x16"),
    capture_file("image-tiff", lambda root: (_write("images/cam01/L000.tif", b"II*\x00")(root),
                                             edit_json(root / "capture.json", set_at(["frames", 3, "image"],
                                                                                   "images/cam01/L000.tif"))),
                 "frames[3].image: images/cam01/L000.tif: unsupported image format '.tif'"),
    capture_file("jpeg-truncated", _truncated_jpeg, "frames[3].image: images/cam01/L000.jpg: cannot decode JPEG"),
    capture_file("images-all-black", _all_black, "frames: the images are black on the object"),
    capture_file("sweep-frame-truncated", _cut("sweeps/S001.exr"),
                 "sequences[0].frames[1]: sweeps/S001.exr: not a readable EXR (truncated or corrupt)"),
    # --- meshes
    capture_file("mesh-garbage", _write("mesh.obj", "solid cube\nfacet normal 0 0 1\n"),
                 "mesh.obj: no vertices found", egl=False),
    capture_file("mesh-empty", _write("mesh.obj", ""), "mesh.obj: no vertices found", egl=False),
    capture_file("mesh-face-index", _write("mesh.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n"),
                 "mesh.obj: face refers to vertex index out of range (there are 3)", egl=False),
    capture_file("mesh-nan-vertex", _write("mesh.obj", "v 0 0 nan\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"),
                 "mesh.obj: vertex positions contain NaN or inf", egl=False),
    capture_file("mesh-not-numeric", _write("mesh.obj", "v 0 0 zero\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"),
                 "mesh.obj: non-numeric vertex data", egl=False),
    capture_file("mesh-out-of-view", _mesh_out_of_view,
                 "cameras[1] (cam01): no object pixel: the mesh covers no pixel of this view"),
    # --- masks
    capture_file("mask-empty", lambda root: write_png_codes(root / "masks/cam00.png", np.zeros((RES, RES), bool)),
                 "frames[0].mask: masks/cam00.png is empty", "view cam00 would have no object pixel"),
    capture_file("mask-wrong-size", lambda root: write_png_codes(root / "masks/cam00.png", np.ones((8, 8), bool)),
                 "frames[0].mask: masks/cam00.png is 8x8, camera cam00 is 16x16"),
    capture_file("mask-truncated", _cut("masks/cam00.png", 0.7),
                 "frames[0].mask: masks/cam00.png: cannot decode PNG (truncated or corrupt)"),
    capture_file("mask-missing", lambda root: (root / "masks/cam00.png").unlink(),
                 "frames[0].mask: file not found: masks/cam00.png", egl=False),
    capture_file("frame-mask-off-object", _corner_mask, "frames[4].mask: masks/corner.png leaves no object pixel of view cam01"),
    # --- split files
    split_file("split-invalid-json", '{"held_out_views": [', "split.json: invalid JSON"),
    split_file("split-unknown-view", '{"held_out_views": ["cam07"]}', "split.json: held_out_views[0]: unknown id 'cam07'"),
    split_file("split-every-light", '{"held_out_lights": ["L000", "L001", "L002"]}',
               "split.json: held_out_lights holds every light"),
    split_file("split-unknown-key", '{"held_out_view": ["cam00"]}', "split.json: unknown key 'held_out_view'"),
    split_file("split-not-a-list", '{"held_out_views": "cam00"}', "split.json: held_out_views: expected a list of ids"),
    split_file("split-missing", None, "split.json: file not found"),
    # --- prepared arrays
    prepared("images-nan", _images_npy(_nan_images), "arrays/images.npy: NaN or inf pixels on the object in the image",
             talks=True),
    prepared("images-shape", _images_npy(lambda a: a[:, :4]), "arrays/images.npy: expected shape (4, 8, 16, 16, 3) float16"),
    prepared("images-truncated", lambda root: _cut("arrays/images.npy", 0.01)(root), "arrays/images.npy: not a readable .npy"),
    prepared("mask-npy-missing", lambda root: (root / "arrays/mask.npy").unlink(), "arrays/mask.npy: file not found"),
    prepared("normal-npy-dtype", lambda root: np.save(root / "arrays/normal.npy", np.zeros((4, RES, RES, 3), np.float64)),
             "arrays/normal.npy: expected shape (4, 16, 16, 3) float32"),
    prepared("prepared-json-invalid", _write("prepared.json", "{"), "prepared.json: invalid JSON"),
    prepared("prepared-json-format", lambda root: edit_json(root / "prepared.json", set_at(["format"], "neutex-prepared/0")),
             "prepared.json: format is 'neutex-prepared/0'"),
    prepared("prepared-json-no-cameras", lambda root: edit_json(root / "prepared.json", lambda d: d.pop("cameras")),
             "prepared.json or splits.json lacks 'cameras'"),
    prepared("splits-unknown-id", lambda root: edit_json(root / "splits.json", set_at(["held_out_views", 0], "cam09")),
             "splits.json: held_out_views: unknown id 'cam09'"),
    prepared("not-prepared", lambda root: (root / "prepared.json").unlink(), "not a prepared dataset"),
    # --- configs
    train_flags("lr-nan", ["--optim.lr", "nan"], "optim.lr: must be a positive number, got nan"),
    train_flags("texture-lr-negative", ["--optim.texture-lr", "-0.1"], "optim.texture_lr: must be a positive number"),
    train_flags("threads-zero", ["--threads", "0"], "threads: must be >= 1, got 0"),
    train_flags("pairs-per-epoch-zero", ["--schedule.pairs-per-epoch", "0"], "schedule.pairs_per_epoch: must be >= 1"),
    train_flags("val-images-zero", ["--schedule.val-images", "0"], "schedule.val_images: must be >= 1"),
    train_flags("epochs-zero", ["--epochs", "0"], "schedule.epochs: must be >= 1"),
    train_flags("milestones-decreasing", ["--optim.milestones", "5", "2"], "optim.milestones: must be increasing"),
    Case("view-fraction", "capture", lambda root: None, lambda cap, tmp: _prepare(cap, tmp, "--view-fraction", "1.5"),
         ("view-fraction: must be in (0, 1], got 1.5",)),
    # --- checkpoints and run folders
    run_folder("last-truncated", _cut("checkpoints/last.pt"), _eval("--checkpoint", "last"),
               "checkpoints/last.pt: corrupt or unreadable checkpoint"),
    run_folder("best-random-bytes", _write("checkpoints/best.pt", np.random.default_rng(2).bytes(999)), _eval(),
               "checkpoints/best.pt: corrupt or unreadable checkpoint (truncated, damaged, or not written by neutex)"),
    run_folder("not-a-neutex-checkpoint", _torch_save("checkpoints/last.pt", {"weights": torch.ones(2)}),
               _eval("--checkpoint", "last"), "checkpoints/last.pt: not a neutex checkpoint"),
    run_folder("checkpoint-other-weights", _other_weights, _eval("--checkpoint", "last"),
               "checkpoints/last.pt: weights do not match the run's config (size mismatch for "),
    run_folder("epoch-not-there", lambda run: None, _eval("--checkpoint", "7"),
               "checkpoints/epoch-0007.pt: checkpoint not found (available in", "best.pt, epoch-0001.pt, last.pt"),
    run_folder("no-checkpoint-yet", _first_checkpoint_only, _eval(), "no checkpoint yet (training stopped before it"),
    run_folder("no-config", lambda run: (run / "config.json").unlink(), _eval(), "config.json: not a run folder"),
    run_folder("config-unknown-key", lambda run: edit_json(run / "config.json", set_at(["config", "bogus"], 1)), _eval(),
               "config.json.bogus: unknown key"),
    run_folder("config-invalid-json", _write("config.json", "{\"config\": "), _eval(), "config.json: invalid JSON"),
    run_folder("resume-other-conditioning", lambda run: None, _resume("--model.conditioning", "concat"),
               "config.json: the run was made with other settings", "model.conditioning: 'multiply' -> 'concat'"),
    train_flags("out-is-a-file", ["--out", "/dev/null"], "/dev/null: exists and is not a folder"),
    run_folder("resume-nothing-there", lambda run: shutil.rmtree(run), _resume(), "nothing to resume"),
]


# ----------------------------------------------------------------------------- bases

@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    """The three valid inputs every case copies: a capture, a prepared dataset, a trained run."""
    root = tmp_path_factory.mktemp("bases")
    capture = write_tiny_capture(root / "capture")
    data = write_synthetic_prepared(root / "prepared", views=4, lights=8, res=RES)
    run = root / "run"
    assert entrypoint(["train", "--data", str(data), "--out", str(run), *TRAIN]) == 0
    return {"capture": capture, "prepared": data, "run": run}


def test_the_bases_are_valid(bases, tmp_path, egl, capfd):
    assert entrypoint(_prepare(bases["capture"], tmp_path)) == 0
    assert sorted(p.name for p in (bases["run"] / "checkpoints").iterdir()) == ["best.pt", "epoch-0001.pt", "last.pt"]
    capfd.readouterr()


def _copy(base: Path, dst: Path) -> Path:
    shutil.copytree(base, dst, symlinks=True)
    return dst


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_clear_line(case: Case, bases, tmp_path, capfd, request):
    if case.egl:
        request.getfixturevalue("egl")
    work = tmp_path / "in"
    work.mkdir()
    src = _copy(bases[case.base], work / case.base)
    case.breaks(src)
    if case.id == "folder-with-brackets":
        src = src / "scan [v2]"
    argv = case.argv(src, tmp_path)
    digest = tree_digest(work, *case.extra_inputs(tmp_path))
    capfd.readouterr()

    code = entrypoint(argv)

    out, err = capfd.readouterr()
    assert code == 2, err
    lines = err.splitlines()
    errors = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    assert len(errors) == 1, err
    error = lines[errors[0]]
    for name in case.names:
        assert name in error, f"{name!r} not in {error!r}"
    after = lines[errors[0] + 1:]
    assert after == [] or (len(after) == 1 and after[0].startswith("fix: ")), err
    before = lines[: errors[0]]  # what neutex said before it failed (train: 'training ...')
    assert before == [] or case.talks, err
    assert not [line for line in before if LIBRARY_NOISE.search(line)], err
    assert out == ""
    assert tree_digest(work, *case.extra_inputs(tmp_path)) == digest, "an input file changed"
    assert not (tmp_path / "out").exists(), "a refused prepare left its output folder"


def test_the_corpus_is_broad():
    kinds = {"capture": 0, "prepared": 0, "run": 0}
    for c in CASES:
        kinds[c.base] += 1
    assert len(CASES) >= 40 and min(kinds.values()) >= 8, kinds
    assert len({c.id for c in CASES}) == len(CASES)
    assert os.environ.get("NEUTEX_TEST_KILL_AT") is None
