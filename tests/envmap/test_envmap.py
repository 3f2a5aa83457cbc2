"""Lat-long maps: the direction convention, solid angles, IO, procedural maps, and the lights
that stand in for a map (energy kept, Lambertian shading matched, rotation)."""

import numpy as np
import pytest

from neutex.envmap import (PRESET_NAMES, EnvMap, direction_to_uv, make_envmap, mitsuba_to_world, pixel_directions,
                           read_envmap, sample_envmap, uv_to_direction, write_envmap)
from neutex.envmap.sampling import EnvLights, cell_directions, cell_irradiance, stratified_cells
from neutex.errors import CaptureError, ConfigError


def test_convention_and_roundtrip():
    # row 0 is the zenith; u = 0 looks along +x, u = 1/4 along -y (azimuth runs clockwise seen from above)
    assert np.allclose(uv_to_direction(0.0, 0.5), [1, 0, 0], atol=1e-12)
    assert np.allclose(uv_to_direction(0.25, 0.5), [0, -1, 0], atol=1e-12)
    assert np.allclose(uv_to_direction(0.75, 0.5), [0, 1, 0], atol=1e-12)
    assert np.allclose(uv_to_direction(0.3, 1.0), [0, 0, -1], atol=1e-12)
    # rotation turns features counter-clockwise about up
    assert np.allclose(uv_to_direction(0.0, 0.5, rotation_deg=90.0), [0, 1, 0], atol=1e-12)
    rng = np.random.default_rng(0)
    u, v = rng.random(50), rng.uniform(0.01, 0.99, 50)
    for up in ([0, 0, 1], [0, 1, 0], [1, 1, 1]):
        uu, vv = direction_to_uv(uv_to_direction(u, v, up, 33.0), up, 33.0)
        assert np.allclose(uu, u) and np.allclose(vv, v)
    d = pixel_directions(6, 12)
    assert d.shape == (6, 12, 3) and np.allclose(np.linalg.norm(d, axis=-1), 1)


def test_mitsuba_to_world_is_a_rotation_that_maps_mitsubas_lookup():
    m = mitsuba_to_world([0, 0, 1], 25.0)[:3, :3]
    assert np.allclose(m @ m.T, np.eye(3)) and np.isclose(np.linalg.det(m), 1.0)
    u, v = 0.37, 0.61
    th, ph = np.pi * v, 2 * np.pi * u
    local = np.array([np.sin(th) * np.sin(ph), np.cos(th), -np.sin(th) * np.cos(ph)])  # Mitsuba's envmap lookup
    assert np.allclose(m @ local, uv_to_direction(u, v, rotation_deg=25.0))


def test_solid_angles_and_irradiance():
    e = EnvMap(np.ones((16, 32, 3), np.float32))
    assert np.allclose(e.irradiance_total(), 4 * np.pi)
    assert np.allclose(e.irradiance_at([0, 1, 0]), np.pi, rtol=2e-3)


@pytest.mark.parametrize("suffix", [".exr", ".hdr", ".npy"])
def test_write_read_roundtrip(tmp_path, suffix):
    e = make_envmap("studio", 16)
    back = read_envmap(write_envmap(tmp_path / f"m{suffix}", e))
    tol = 0.01 if suffix == ".hdr" else 1e-6  # RGBE keeps 8 mantissa bits
    assert back.radiance.shape == (16, 32, 3) and back.name == "m"
    assert np.allclose(back.radiance, e.radiance, rtol=tol, atol=1e-6 + tol * 1e-2)


def test_read_errors(tmp_path):
    with pytest.raises(CaptureError, match="file not found"):
        read_envmap(tmp_path / "nope.exr")
    np.save(tmp_path / "square.npy", np.ones((8, 8, 3), np.float32))
    with pytest.raises(CaptureError, match="not a lat-long map"):
        read_envmap(tmp_path / "square.npy")
    np.save(tmp_path / "neg.npy", -np.ones((8, 16, 3), np.float32))
    with pytest.raises(CaptureError, match="negative radiance"):
        read_envmap(tmp_path / "neg.npy")
    (tmp_path / "bad.hdr").write_bytes(b"P6 nonsense")
    with pytest.raises(CaptureError, match="not a Radiance HDR"):
        read_envmap(tmp_path / "bad.hdr")


def test_presets():
    for name in PRESET_NAMES:
        e = make_envmap(name, 32)
        assert e.radiance.shape == (32, 64, 3) and e.radiance.min() >= 0
        assert np.isclose(e.irradiance_at([0, 0, 1]).mean(), 3.2, rtol=1e-4)
    with pytest.raises(ConfigError, match="unknown"):
        make_envmap("beach")


def test_stratified_cells_have_equal_area():
    h, w, k = 256, 512, 37
    cells = stratified_cells(h, w, k)
    from neutex.envmap import pixel_solid_angles

    area = np.bincount(cells.ravel(), np.broadcast_to(pixel_solid_angles(h, w), (h, w)).ravel(), minlength=k)
    assert np.allclose(area, 4 * np.pi / k, rtol=0.06)  # exact up to the pixels a cell boundary cuts


@pytest.mark.parametrize("method", ["stratified", "importance"])
def test_lights_keep_the_energy_and_shade_like_the_map(method):
    e = make_envmap("sky", 64)
    normals = np.array([[0, 0, 1.0], [1, 0, 0], [0, -1, 0], [0.6, 0.0, -0.8]])
    exact = np.stack([e.irradiance_at(n) for n in normals])
    lights = sample_envmap(e, 256, method)
    assert len(lights) <= 256 and np.allclose(np.linalg.norm(lights.directions, axis=1), 1)
    from neutex.envmap.latlong import LUMINANCE

    # stratified keeps every cell's RGB energy; importance the total luminance (colour is sampled)
    assert np.allclose(lights.irradiance.sum(0) @ LUMINANCE, e.irradiance_total() @ LUMINANCE, rtol=1e-9)
    assert np.allclose(lights.irradiance.sum(0), e.irradiance_total(), rtol=1e-9 if method == "stratified" else 0.05)
    # stratified: deterministic and close; importance: unbiased but noisy (a sun takes most samples)
    tol = 0.03 if method == "stratified" else 0.2
    assert np.allclose(lights.shade_lambert(normals), exact, rtol=tol, atol=0.02)
    assert lights.sources.shape == (len(lights), 4) and (lights.sources[:, 3] == 0).all()


def test_lights_rotate_with_the_map():
    e = make_envmap("spot", 32)
    a = sample_envmap(e.rotated(40.0), 16)
    b = sample_envmap(e, 16).rotated(40.0, e.up)
    assert np.allclose(a.directions, b.directions) and np.allclose(a.irradiance, b.irradiance)
    # the spot preset is one small source: one light, at the source
    assert len(sample_envmap(e, 16)) == 1


def test_fixed_cells_turn_the_map_over_lights_that_stay_put():
    """The viewer's preview: world-fixed cells, the map's energy re-binned as it turns."""
    e = make_envmap("sky", 32)
    k = 16
    dirs = cell_directions(k, e.up)
    assert dirs.shape == (k, 3) and np.allclose(np.linalg.norm(dirs, axis=1), 1)
    assert np.allclose(cell_irradiance(e, k), sample_envmap(e, k).irradiance)  # no rotation: stratified's cells
    for deg in (0.0, 13.0, 90.0, 271.0):
        turned = cell_irradiance(e, k, deg)
        assert np.allclose(turned.sum(0), e.irradiance_total())  # energy-exact at any angle
        # a Lambertian surface receives what the map turned by deg gives, up to the cells' size
        n = np.array([[1.0, 0, 0], [0, 1.0, 0], [0.6, 0, 0.8]])
        exact = np.stack([e.rotated(deg).irradiance_at(x) for x in n])
        assert np.allclose(EnvLights(dirs, turned, "fixed_cells", k).shade_lambert(n), exact, rtol=0.25, atol=0.05)
    assert np.allclose(cell_irradiance(e, k, 360.0), cell_irradiance(e, k), atol=1e-9)
    n = np.array([[1.0, 0, 0], [0, 1.0, 0], [-1.0, 0, 0], [0, -1.0, 0]])  # the turn's sense: +90 is not -90
    exact = np.stack([e.rotated(90.0).irradiance_at(x) for x in n])
    err = [np.abs(EnvLights(dirs, cell_irradiance(e, k, a), "f", k).shade_lambert(n) - exact).max() for a in (90, -90)]
    assert err[0] < 0.5 * err[1]
    assert not np.allclose(cell_irradiance(e, k, 90.0), cell_irradiance(e, k))


def test_sampling_errors():
    with pytest.raises(ConfigError, match="at least 1"):
        sample_envmap(make_envmap("sky", 16), 0)
    with pytest.raises(ConfigError, match="unknown"):
        sample_envmap(make_envmap("sky", 16), 4, "median")  # type: ignore[arg-type]
