"""Single-view photometric-stereo data flows through import, prepare (explicit split), train
and eval like any other capture; the novel_view buckets are simply empty."""

import json

import numpy as np
import scipy.io

from neutex.capture import write_png_codes
from neutex.cli import entrypoint

RES = 32
ROWS, COLS = 4, 6


def lambertian_object(src):
    """A DiLiGenT-like folder: a hemisphere (Lambertian, albedo 0.6) lit by a 4x6 grid of
    directional lights, 16-bit PNGs, intensities != 1, one saturated pixel."""
    src.mkdir(parents=True)
    jj, ii = np.mgrid[0:RES, 0:RES].astype(float)
    x, y = (ii - (RES - 1) / 2) / (RES / 2 - 2), ((RES - 1) / 2 - jj) / (RES / 2 - 2)  # y up
    mask = x ** 2 + y ** 2 < 0.95
    z = np.sqrt(np.clip(1 - x ** 2 - y ** 2, 0, 1))
    normal = np.where(mask[..., None], np.stack([x, y, z], -1), 0.0)
    az = np.linspace(-0.6, 0.6, COLS)
    el = np.linspace(0.5, -0.5, ROWS)
    dirs = np.array([[np.sin(a) * np.cos(e), np.sin(e), np.cos(a) * np.cos(e)] for e in el for a in az])
    inten = np.linspace(0.8, 1.6, len(dirs))[:, None] * np.array([1.0, 0.9, 0.8])
    names = []
    for k, (d, I) in enumerate(zip(dirs, inten)):
        img = 0.6 * np.clip(normal @ d, 0, None)[..., None] * I * mask[..., None]
        codes = np.round(np.clip(img, 0, 1) * 65535).astype(np.uint16)
        if k == 0:
            codes[RES // 2, RES // 2, 0] = 65535
        names.append(f"{k + 1:03d}.png")
        write_png_codes(src / names[-1], codes)
    (src / "filenames.txt").write_text("\n".join(names) + "\n")
    np.savetxt(src / "light_directions.txt", dirs, fmt="%.8f")
    np.savetxt(src / "light_intensities.txt", inten, fmt="%.8f")
    write_png_codes(src / "mask.png", mask)
    scipy.io.savemat(src / "Normal_gt.mat", {"Normal_gt": normal})
    return dirs


def test_diligent_like_object_end_to_end(tmp_path):
    lambertian_object(tmp_path / "obj")
    cap, prep, run = tmp_path / "cap", tmp_path / "prep", tmp_path / "run"
    assert entrypoint(["import", "diligent", str(tmp_path / "obj"), "--out", str(cap)]) == 0
    capture = json.loads((cap / "capture.json").read_text())
    assert len(capture["sequences"]) == ROWS
    light_ids = [l["id"] for l in capture["lights"]]
    held = light_ids[1::4]
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"held_out_views": [], "held_out_lights": held}))
    assert entrypoint(["prepare", str(cap), "--out", str(prep), "--split", str(split)]) == 0
    s = json.loads((prep / "splits.json").read_text())
    assert s["held_out_lights"] == held and s["held_out_views"] == []
    assert entrypoint(["train", "--data", str(prep), "--out", str(run), "--epochs", "2", "--perceptual", "off",
                       "--model.texture-res", "32", "--model.unet-depth", "2", "--model.unet-width", "8",
                       "--schedule.val-images", "3", "--schedule.sweep-frames", "6"]) == 0
    assert entrypoint(["eval", str(run), "--checkpoint", "last"]) == 0
    ev = json.loads((run / "eval.json").read_text())
    assert set(ev["buckets"]) == {"train", "novel_light"}
    assert ev["buckets"]["novel_light"]["n"] == len(held)
    # the nearest-light baseline is near-exact on a Lambertian object (shading ratio rescale)
    assert ev["baselines"]["nearest_light"]["novel_light"]["psnr"] > 30
    assert len(ev["temporal"]) == ROWS  # one per light row, captured frames reused as sequences


def test_unknown_split_id_is_one_line_error(tmp_path, capsys):
    lambertian_object(tmp_path / "obj")
    assert entrypoint(["import", "diligent", str(tmp_path / "obj"), "--out", str(tmp_path / "cap")]) == 0
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"held_out_lights": ["nope"]}))
    assert entrypoint(["prepare", str(tmp_path / "cap"), "--out", str(tmp_path / "p"), "--split", str(split)]) == 2
    err = capsys.readouterr().err
    assert "held_out_lights[0]: unknown id 'nope'" in err and "Traceback" not in err
