"""The environment-map numbers of docs/render.md: a trained run relit under each environment of
its prepared dataset (Mitsuba ground truth), beside the weighted-captures baseline, as a
function of the number of lights K; the floor of K lights measured with Mitsuba itself (sum of
directional renders vs the envmap render); and the figure GT | relit | error.

    python scripts/envmap_egg.py RUN --data PREPARED --capture CAPTURE --out DIR [--checkpoint last]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--capture", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--checkpoint", default="last")
    ap.add_argument("--ks", default="4,16,64,256")
    ap.add_argument("--importance-ks", default="16,64")
    ap.add_argument("--mitsuba-ks", default="16,64,256")
    ap.add_argument("--figure", type=Path, default=None)
    ap.add_argument("--maps", default="", help="only these environments (comma-separated)")
    a = ap.parse_args()

    from neutex.envmap import sample_envmap
    from neutex.eval.environment import weighted_captures
    from neutex.eval.metrics import image_metrics
    from neutex.render.envlight import reference_irradiance, relight_envmap
    from neutex.run import load_run

    loaded = load_run(a.run, a.checkpoint, "cpu", a.data)
    renderer = loaded.renderer(16, amp=torch.bfloat16)
    d = loaded.data
    e_ref = reference_irradiance(d.light_sources, d.light_intensities)
    out: dict = {"run": str(a.run), "checkpoint": str(loaded.checkpoint), "epoch": loaded.epoch, "maps": {}}
    a.out.mkdir(parents=True, exist_ok=True)
    figure_rows = []
    for env in d.environments:
        if a.maps and env.name not in a.maps.split(","):
            continue
        emap = env.envmap()
        views = env.views.tolist()
        masks = [torch.from_numpy(np.array(d.mask[v], bool))[None, None] for v in views]
        gts = [torch.from_numpy(np.asarray(env.frames[j], np.float32)).permute(2, 0, 1)[None] * masks[j]
               for j in range(len(views))]

        def score(preds):
            rows = [image_metrics(p * m, g, m, white=env.white_level) for p, g, m in zip(preds, gts, masks)]
            return {k: float(np.mean([float(r[k][0]) for r in rows])) for k in ("psnr", "psnr_tonemapped", "ssim")}

        res: dict = {"views": [d.view_ids[v] for v in views], "white": env.white_level, "model": {}, "generator": env.generator}
        res["baseline"] = score([weighted_captures(d, v, emap)[None] for v in views])
        for method, ks in (("stratified", a.ks), ("importance", a.importance_ks)):
            for k in [int(x) for x in ks.split(",") if x]:
                lights = sample_envmap(emap, k, method)
                t0 = time.perf_counter()
                preds = [relight_envmap(renderer, d, v, lights, e_ref).cpu()[None] for v in views]
                s = score(preds)
                s.update({"lights": len(lights), "seconds_per_image": (time.perf_counter() - t0) / len(views)})
                res["model"][f"{method}_{k}"] = s
                print(env.name, method, k, s, flush=True)
                if method == "stratified" and k == 64:
                    figure_rows.append((env.name, gts[0][0], preds[0][0], masks[0][0, 0], env.white_level,
                                        d.view_ids[views[0]]))
        res["mitsuba_floor"] = mitsuba_floor(a.capture, env, d, [int(x) for x in a.mitsuba_ks.split(",") if x])
        print(env.name, "baseline", res["baseline"], "floor", res["mitsuba_floor"], flush=True)
        out["maps"][env.name] = res
        (a.out / f"envmap_egg{'_' + a.maps.replace(',', '_') if a.maps else ''}.json").write_text(json.dumps(out, indent=1))
    if a.figure is not None:
        write_figure(figure_rows, a.figure)


def mitsuba_floor(capture: Path, env, data, ks: list[int]) -> dict:
    """Tone-mapped PSNR of Mitsuba's own sum of K directional renders against its envmap render,
    at the environment's first view: the error of K lights alone, without any model."""
    import mitsuba  # noqa: F401

    from neutex.capture import load_capture
    from neutex.envmap import sample_envmap
    from neutex.eval.metrics import image_metrics
    from neutex.synth.environment import ALBEDO_FILE, ROUGHNESS_FILE, build_env_scene_dict, directional_emitter_dict
    from neutex.synth.scene import to_mitsuba
    from neutex.synth.variant import set_variant

    mi = set_variant("auto", verbose=False)
    cap = load_capture(capture)
    v = int(env.views[0])
    cam = cap.camera(data.view_ids[v])
    cfg = cap.generator["config"]
    scene = mi.load_dict(to_mitsuba(build_env_scene_dict(
        cap.root / cap.mesh, cap.root / ALBEDO_FILE, cap.root / ROUGHNESS_FILE, [cam],
        directional_emitter_dict([0, 0, 1], [1, 1, 1]), spp=16, max_depth=cfg["max_depth"],
        specular=cfg["specular"]), mi))
    params = mi.traverse(scene)
    mask = torch.from_numpy(np.array(data.mask[v], bool))[None, None]
    gt = torch.from_numpy(np.asarray(env.frames[0], np.float32)).permute(2, 0, 1)[None] * mask
    out = {"view": data.view_ids[v]}
    for k in ks:
        lights = sample_envmap(env.envmap(), k, "stratified")
        total = np.zeros((cam.height, cam.width, 3), np.float32)
        for i, (dd, e) in enumerate(zip(lights.directions, lights.irradiance)):
            params["light.to_world"] = mi.ScalarTransform4f().look_at(
                origin=[0, 0, 0], target=(-dd).tolist(), up=[0.0, 0.0, 1.0] if abs(dd[2]) < 0.99 else [1.0, 0, 0])
            params["light.irradiance.value"] = mi.Color3f(*(float(x) for x in e))
            params.update()
            total += np.array(mi.render(scene, sensor=scene.sensors()[0], seed=i), np.float32)[..., :3]
        p = torch.from_numpy(total).permute(2, 0, 1)[None] * mask
        m = image_metrics(p, gt, mask, white=env.white_level)
        out[f"stratified_{k}"] = {"psnr_tonemapped": float(m["psnr_tonemapped"][0]), "ssim": float(m["ssim"][0])}
    return out


def write_figure(rows, path: Path) -> None:
    from neutex.capture.imageio import write_png_codes
    from neutex.render.video import error_heatmap, to_uint8
    from neutex.report.media import labelled_grid

    cells, labels = [], []
    for name, gt, pred, mask, white, view in rows:
        g = gt.permute(1, 2, 0).numpy()
        p = pred.permute(1, 2, 0).numpy()
        m = mask.numpy()
        cells.append([to_uint8(g, white), to_uint8(p, white), error_heatmap(p, g, m)])
        labels.append(f"{name} ({view})")
    img = labelled_grid(cells, ["Mitsuba (GT)", "relit (K = 64)", "|error|"], labels)
    write_png_codes(path, img)


if __name__ == "__main__":
    main()
