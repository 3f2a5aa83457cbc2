"""Environment-map ground truth and the integration it is compared with, independent of any
model: Mitsuba's envmap render of an object equals the sum of Mitsuba's renders of the same
object under the map's directional lights (:func:`neutex.envmap.sample_envmap`), within the
path tracer's noise. A mirrored map convention fails the same check, so it pins the
orientation of Mitsuba's envmap against neutex's lat-long convention."""

import numpy as np
import pytest

from neutex.capture import look_at, pinhole_K
from neutex.capture.imageio import write_png
from neutex.capture.schema import Camera
from neutex.envmap import EnvMap, pixel_directions, sample_envmap, write_envmap
from neutex.synth.environment import build_env_scene_dict, directional_emitter_dict, envmap_emitter_dict
from neutex.synth.mesh import make_egg_mesh, write_obj
from neutex.synth.scene import to_mitsuba
from neutex.synth.textures import make_textures
from neutex.synth.variant import current_variant, set_variant

RES = 20


def _smooth_map(h: int = 32) -> EnvMap:
    """Warm light from one side and above, cool from the opposite low side: smooth, asymmetric
    in azimuth (a mirrored convention lights the wrong side)."""
    d = pixel_directions(h, 2 * h)
    a = np.array([0.6, -0.5, 0.62]) / np.linalg.norm([0.6, -0.5, 0.62])
    b = np.array([-0.7, -0.6, -0.2]) / np.linalg.norm([-0.7, -0.6, -0.2])
    img = (0.05 + 2.5 * np.clip(d @ a, 0, None)[..., None] ** 4 * np.array([1.0, 0.8, 0.5])
           + 0.8 * np.clip(d @ b, 0, None)[..., None] ** 2 * np.array([0.3, 0.5, 1.0]))
    return EnvMap(img.astype(np.float32))


@pytest.fixture(scope="module")
def scene_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("envscene")
    write_obj(root / "mesh.obj", make_egg_mesh(24, 13))
    tex = make_textures("egg", 32, 0)
    write_png(root / "albedo.png", tex.albedo, 8, "srgb")
    # rough everywhere (principled roughness 0.7, GGX α 0.49): a few dozen lights resolve its lobes; the
    # egg's glossy patches (α 0.04) need hundreds (docs/render.md measures how many)
    write_png(root / "roughness.png", np.full_like(tex.roughness, 0.7), 8, "linear")
    env = _smooth_map()
    write_envmap(root / "map.exr", env)
    cam = Camera("cam00", RES, RES, look_at([2.6, -1.2, 0.8], [0, 0, 0], [0, 0, 1]), K=pinhole_K(RES, RES, 30.0))
    return root, env, cam


@pytest.fixture()
def scalar_variant():
    prev = current_variant()
    mi = set_variant("scalar_rgb", verbose=False)
    try:
        yield mi
    finally:
        if prev is not None and prev != "scalar_rgb":
            set_variant(prev, verbose=False)


def _render(mi, root, cam, emitter, spp, seed=0):
    d = build_env_scene_dict(root / "mesh.obj", root / "albedo.png", root / "roughness.png", [cam], emitter, spp=spp)
    scene = mi.load_dict(to_mitsuba(d, mi))
    return scene, np.array(mi.render(scene, seed=seed), np.float32)[..., :3]


def _sum_of_lights(mi, root, cam, lights, spp=4):
    """Σ_k Mitsuba render under directional light k (one scene, the light moved by traverse)."""
    scene, _ = _render(mi, root, cam, directional_emitter_dict([0, 0, 1], [1, 1, 1]), spp)
    params = mi.traverse(scene)
    total = np.zeros((RES, RES, 3), np.float32)
    for k, (d, e) in enumerate(zip(lights.directions, lights.irradiance)):
        params["light.to_world"] = mi.ScalarTransform4f().look_at(origin=[0, 0, 0], target=(-d).tolist(),
                                                                   up=[0.0, 0.0, 1.0] if abs(d[2]) < 0.99 else [1.0, 0, 0])
        params["light.irradiance.value"] = mi.Color3f(*(float(x) for x in e))
        params.update()
        total += np.array(mi.render(scene, seed=k), np.float32)[..., :3]
    return total


def test_envmap_render_equals_sum_of_directional_renders(scene_files, scalar_variant):
    mi = scalar_variant
    root, env, cam = scene_files
    _, gt = _render(mi, root, cam, envmap_emitter_dict(root / "map.exr"), spp=512, seed=3)
    mask = gt.max(-1) > 0
    assert mask.sum() > 0.3 * RES * RES

    def rel_err(img):
        return float(np.sqrt(((img - gt)[mask] ** 2).mean()) / np.sqrt((gt[mask] ** 2).mean()))

    lights = sample_envmap(env, 48, "stratified")
    relit = _sum_of_lights(mi, root, cam, lights)
    err = rel_err(relit)
    # the object's mean brightness agrees closely; per pixel within path-tracing noise + 48-light discretisation
    assert abs(relit[mask].mean() / gt[mask].mean() - 1) < 0.03, (relit[mask].mean(), gt[mask].mean())
    assert err < 0.08, err
    # a mirrored lat-long convention (azimuth running the other way) lights the wrong side
    mirrored = lights.directions * np.array([1.0, -1.0, 1.0])
    wrong = _sum_of_lights(mi, root, cam, type(lights)(mirrored, lights.irradiance, "mirrored", 48))
    assert rel_err(wrong) > 2.5 * err, (rel_err(wrong), err)
