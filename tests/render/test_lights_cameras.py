import math

import numpy as np
import pytest

from neutex.capture import Camera, look_at, pinhole_K
from neutex.render.cameras import orbit_cameras, orbit_start_deg, ring_of
from neutex.render.lights import azimuth_deg, circle_light_sources, elevation_deg, stage_light_distance


def _angles(dirs: np.ndarray) -> np.ndarray:
    """Angles (rad) between consecutive unit vectors, the last one back to the first."""
    d = dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
    return np.arccos(np.clip((d * np.roll(d, -1, 0)).sum(1), -1, 1))


@pytest.mark.parametrize("n", [5, 360])
@pytest.mark.parametrize("up", [(0, 0, 1), (0, 1, 0), (1.0, 2.0, -0.5)])
def test_circle_closes_the_loop_evenly(n, up):
    el, r, center = 25.0, 2.5, np.array([0.1, -0.2, 0.3])
    s = circle_light_sources(n, r, el, up, center=center, start_deg=40.0)
    assert s.shape == (n, 4) and (s[:, 3] == 1).all()
    rel = s[:, :3] - center
    np.testing.assert_allclose(np.linalg.norm(rel, axis=1), r, rtol=1e-12)
    u = np.asarray(up, float) / np.linalg.norm(up)
    # every light at the elevation asked for, about the up axis
    np.testing.assert_allclose(rel @ u, r * math.sin(math.radians(el)), atol=1e-12)
    np.testing.assert_allclose([elevation_deg(p, up, center) for p in s[:, :3]], el, atol=1e-9)
    # evenly spaced, and the last frame is one step before the first (no repeated frame)
    az = np.array([azimuth_deg(p, up, center) for p in s[:, :3]])
    steps = np.diff(np.r_[az, az[0]]) % 360
    np.testing.assert_allclose(steps, 360 / n, atol=1e-9)
    a = _angles(rel - (rel @ u)[:, None] * u)
    np.testing.assert_allclose(a, a[0], atol=1e-9)
    assert azimuth_deg(s[0, :3], up, center) == pytest.approx(40.0)


def test_circle_turns_direction_and_directional():
    fwd = circle_light_sources(8, 1.0, 10.0, turns=1.0)
    back = circle_light_sources(8, 1.0, 10.0, turns=-1.0)
    np.testing.assert_allclose(back[1:], fwd[1:][::-1], atol=1e-12)  # the same circle, run backwards
    two = circle_light_sources(8, 1.0, 10.0, turns=2.0)
    np.testing.assert_allclose(two[:4], fwd[::2], atol=1e-12)
    d = circle_light_sources(6, 99.0, 60.0, up=(0, 1, 0), directional=True)
    assert (d[:, 3] == 0).all()
    np.testing.assert_allclose(np.linalg.norm(d[:, :3], axis=1), 1.0)
    np.testing.assert_allclose(d[:, 1], math.sin(math.radians(60)))


def test_stage_light_distance():
    src = np.array([[3.0, 0, 0, 1], [0, 5.0, 0, 1], [0, 0, 4.0, 1], [0, 0, 1.0, 0]])
    assert stage_light_distance(src) == 4.0
    assert stage_light_distance(src[3:]) is None


def _cam(eye, res=16):
    return Camera("t", res, res, look_at(eye, [0, 0, 0], [0, 0, 1]), K=pinhole_K(res, res, 40.0))


def test_orbit_cameras_ring_and_start():
    cams = [_cam([3 * math.cos(a), 3 * math.sin(a), 1.2]) for a in (0.3, 1.5, 4.0)]
    ring = ring_of(cams)
    assert ring["distance"] == pytest.approx(math.hypot(3, 1.2))
    assert ring["elevation_deg"] == pytest.approx(math.degrees(math.atan2(1.2, 3)))
    orbit = orbit_cameras(cams[1], 12, ring["distance"], ring["elevation_deg"], start_deg=orbit_start_deg(cams[1]))
    assert len(orbit) == 12 and orbit[0].id == "orbit0000"
    # starts exactly at the template camera (same ring), with its intrinsics
    np.testing.assert_allclose(orbit[0].world_to_camera, cams[1].world_to_camera, atol=1e-9)
    np.testing.assert_array_equal(orbit[5].K, cams[1].K)
    for c in orbit:  # every camera looks at the centre, which projects to the principal point
        np.testing.assert_allclose(c.project(np.zeros(3)), [(16 - 1) / 2, (16 - 1) / 2], atol=1e-9)
        assert np.linalg.norm(c.center_world) == pytest.approx(ring["distance"])
        # image up is world up: a point above the centre lands above the principal point
        assert c.project(np.array([0, 0, 0.1]))[1] < (16 - 1) / 2
