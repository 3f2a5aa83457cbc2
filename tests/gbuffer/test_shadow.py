"""Shadow maps (GL) and PCF visibility (pure torch): analytic sphere-over-plane shadows, no
acne on the lit side, a soft edge that moves continuously with the light, caching, errors."""

import math

import numpy as np
import pytest
import torch
import trimesh

from neutex.capture.mesh import Mesh
from neutex.errors import DataError
from neutex.gbuffer.shadow import DEFAULT_BIAS, ShadowCaster, light_frustum, normalize_light, pad_depth, pcf_visibility

CENTRE = np.array([0.0, 0.0, 0.6])
RHO = 0.5
HALF = 1.5  # the ground quad spans [-HALF, HALF]²

POINT = np.array([0.3, 0.2, 4.0, 1.0])
DIRECTIONAL = np.r_[np.array([0.5, -0.3, 1.0]) / np.linalg.norm([0.5, -0.3, 1.0]), 0.0]
GRAZING = np.r_[np.array([0.9, 0.2, 0.3]) / np.linalg.norm([0.9, 0.2, 0.3]), 0.0]  # n·l = 0.31 on the ground


def sphere_over_plane() -> tuple[Mesh, trimesh.Trimesh]:
    s = trimesh.creation.icosphere(4, radius=RHO)
    k = len(s.vertices)
    ground = [[-HALF, -HALF, 0], [HALF, -HALF, 0], [HALF, HALF, 0], [-HALF, HALF, 0]]
    mesh = Mesh(np.concatenate([s.vertices + CENTRE, ground]),
                np.concatenate([s.faces, [[k, k + 1, k + 2], [k, k + 2, k + 3]]]))
    return mesh, s


@pytest.fixture(scope="module")
def scene(egl):
    mesh, sphere = sphere_over_plane()
    with ShadowCaster(mesh, resolution=512) as caster:
        yield caster, sphere


def as_image(points: np.ndarray) -> torch.Tensor:
    """(N, 3) -> (1, 3, 1, N) float32."""
    return torch.from_numpy(np.ascontiguousarray(points.T, np.float32)).reshape(1, 3, 1, -1)


def towards(light: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Unit directions (N, 3) from points p to the light."""
    d = light[:3] - light[3] * p
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def analytic_shadow(p: np.ndarray, light: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Does the segment from p to the light hit the sphere? Also c - ρ: how far the ray passes
    from the sphere's surface (negative inside), for the distance to the shadow edge."""
    u = towards(light, p)
    reach = np.linalg.norm(light[:3] - p, axis=1) if light[3] == 1 else np.full(len(p), np.inf)
    oc = CENTRE - p
    b = (oc * u).sum(1)
    c = np.sqrt(np.maximum((oc * oc).sum(1) - b * b, 0.0))
    return (b > 0) & (c < RHO) & (b < reach), c - RHO


# ---------------------------------------------------------------- analytic scene (GL)


@pytest.mark.parametrize("light", [POINT, DIRECTIONAL, GRAZING], ids=["point", "directional", "grazing"])
def test_plane_shadow_matches_ray_sphere(scene, light):
    """Ground points farther than 2 texels from the analytic shadow edge agree with a
    ray-sphere test (>= 99%; 100% measured)."""
    caster, _ = scene
    G = 200
    xs = np.linspace(-1.4, 1.4, G)
    X, Y = np.meshgrid(xs, xs, indexing="ij")
    ground = np.stack([X, Y, np.zeros_like(X)], -1).reshape(-1, 3)
    normal = np.tile([0.0, 0.0, 1.0], (len(ground), 1))
    vis = caster.visibility(as_image(ground), as_image(normal), torch.tensor(light[None], dtype=torch.float32))
    vis = vis.reshape(-1).numpy()
    shadowed, margin = analytic_shadow(ground, light)
    # distance on the ground to the edge: |c - ρ| over its gradient along the ground
    m = margin.reshape(G, G)
    gx, gy = np.gradient(m, xs, xs)
    dist = (np.abs(m) / np.maximum(np.hypot(gx, gy), 1e-9)).reshape(-1)
    smap = caster.depth_map(light)
    z = np.c_[ground, np.ones(len(ground))] @ smap.light_matrix.numpy().astype(np.float64)[2]
    texel = smap.texel_size[0] + smap.texel_size[1] * z
    far = dist > 2 * texel
    agree = (vis > 0.5) == ~shadowed
    assert 0.05 < shadowed.mean() < 0.5 and far.mean() > 0.9
    assert agree[far].mean() >= 0.99, agree[far].mean()


@pytest.mark.parametrize("light", [POINT, DIRECTIONAL, GRAZING], ids=["point", "directional", "grazing"])
def test_sphere_lit_side_has_no_acne(scene, light):
    """Points on the sphere's triangles (smooth normals, as a G-buffer has them) with n·l > 0.2
    are fully visible."""
    caster, sphere = scene
    rng = np.random.default_rng(0)
    face = rng.integers(0, len(sphere.faces), 8000)
    bary = rng.dirichlet([1.0, 1.0, 1.0], len(face))[:, :, None]
    corners = sphere.faces[face]
    p = (bary * sphere.vertices[corners]).sum(1) + CENTRE
    vn = sphere.vertices / np.linalg.norm(sphere.vertices, axis=1, keepdims=True)
    n = (bary * vn[corners]).sum(1)
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    lit_side = (n * towards(light, p)).sum(1) > 0.2
    vis = caster.visibility(as_image(p), as_image(n), torch.tensor(light[None], dtype=torch.float32))
    vis = vis.reshape(-1).numpy()[lit_side]
    assert (vis > 0.99).mean() >= 0.99, (vis > 0.99).mean()


def test_map_depth_is_linear_depth_at_the_projected_texel(scene):
    """Convention: a world point on the ground projects, through light_matrix, to the texel
    holding its own linear depth (row 0 is y = -1, texel centres at (2i + 1) / S - 1)."""
    caster, _ = scene
    rng = np.random.default_rng(1)
    p = np.c_[rng.uniform(1.0, 1.4, (200, 2)) * rng.choice([-1, 1], (200, 2)), np.zeros(200)]  # outside the shadow
    for light in (POINT, DIRECTIONAL):
        smap = caster.depth_map(light)
        clip = np.c_[p, np.ones(len(p))] @ smap.light_matrix.numpy().astype(np.float64).T
        S = smap.depth.shape[0]
        i = np.round((clip[:, 0] / clip[:, 3] + 1) * S / 2 - 0.5).astype(int)
        j = np.round((clip[:, 1] / clip[:, 3] + 1) * S / 2 - 0.5).astype(int)
        texel = smap.texel_size[0] + smap.texel_size[1] * clip[:, 2]
        np.testing.assert_allclose(smap.depth.numpy()[j, i], clip[:, 2], atol=float(texel.max()))


def test_soft_edge_moves_continuously(egl):
    """Moving a point light in 20 small steps moves the shadow edge across a strip of ground:
    the strip's mean visibility rises by near-equal steps, and no point jumps (hard shadow
    maps, pcf_radius = 0, jump 0 -> 1 and step unevenly)."""
    mesh, _ = sphere_over_plane()
    G = 40
    X, Y = np.meshgrid(np.linspace(0.4, 0.7, G), np.linspace(-0.15, 0.15, G), indexing="ij")
    strip = as_image(np.stack([X, Y, np.zeros_like(X)], -1).reshape(-1, 3))  # across the shadow's +x edge
    up = torch.zeros_like(strip)
    up[:, 2] = 1
    lights = torch.tensor([[x, 0.2, 4.0, 1.0] for x in np.linspace(0.3, 0.6, 21)], dtype=torch.float32)
    steps = {}
    for radius in (1.5, 0.0):
        with ShadowCaster(mesh, resolution=256, pcf_radius=radius) as caster:
            vis = caster.visibility(strip.expand(len(lights), -1, -1, -1), up.expand(len(lights), -1, -1, -1), lights)
        v = vis.reshape(len(lights), -1)
        steps[radius] = (np.diff(v.mean(1).numpy()), (v[1:] - v[:-1]).abs().max().item())
    d_mean, jump = steps[1.5]
    assert d_mean.min() > 0 and d_mean.max() < 1.5 * np.median(d_mean), d_mean
    assert jump < 0.1, jump
    d_hard, jump_hard = steps[0.0]
    assert jump_hard == 1.0 and d_hard.max() > 1.5 * np.median(d_hard)  # the test tells the two apart


def test_cache_renders_each_light_once(egl):
    mesh, _ = sphere_over_plane()
    with ShadowCaster(mesh, resolution=32, cache_size=2) as caster:
        a = caster.depth_map(POINT)
        assert caster.depth_map(POINT.copy()) is a and caster.renders == 1
        # a batch repeating one light renders nothing new and shares the map
        p = as_image(np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 0.0]]))
        n = torch.zeros_like(p)
        n[:, 2] = 1
        caster.visibility(p.expand(3, -1, -1, -1), n.expand(3, -1, -1, -1),
                          torch.tensor(np.stack([POINT, POINT, DIRECTIONAL]), dtype=torch.float32))
        assert caster.renders == 2
        # directional lights are keyed by their unit direction
        caster.depth_map(np.r_[3 * DIRECTIONAL[:3], 0.0])
        assert caster.renders == 2
        caster.depth_map(GRAZING)  # a third light evicts the least recently used (POINT)
        caster.depth_map(DIRECTIONAL)
        assert caster.renders == 3
        caster.depth_map(POINT)
        assert caster.renders == 4


def test_point_light_inside_bounding_sphere_is_an_error(egl):
    mesh, _ = sphere_over_plane()
    with ShadowCaster(mesh, resolution=32) as caster:
        with pytest.raises(DataError, match=r"point light \(0\.2, 0, 1\): inside or too near the mesh's bounding"):
            caster.depth_map(np.array([0.2, 0.0, 1.0, 1.0]))
        with pytest.raises(DataError, match=r"point light \(0\.2, 0, 1\)"):
            caster.visibility(torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2), torch.tensor([[0.2, 0.0, 1.0, 1.0]]))


# ---------------------------------------------------------------- frustum and PCF (no GL)


def test_light_frustum_covers_the_bounding_sphere():
    centre, radius = np.array([0.1, -0.2, 0.3]), 0.8
    rng = np.random.default_rng(2)
    rim = rng.normal(size=(500, 3))
    rim = centre + radius * rim / np.linalg.norm(rim, axis=1, keepdims=True)
    for light in ([0.5, 3.0, 1.0, 1.0], [0.0, 1.0, 1.0, 0.0]):
        f = light_frustum(light, centre, radius, 64)
        clip = np.c_[rim, np.ones(len(rim))] @ f.light_matrix.T
        ndc = clip[:, :2] / clip[:, 3:]
        assert np.abs(ndc).max() < 1.0 and np.abs(ndc).max() > 0.9  # covered, and not loosely
        assert (clip[:, 2] > 0).all()
    with pytest.raises(DataError, match=r"point light \(0\.1, -0\.2, 1\): inside or too near .* needs > 0\.83"):
        light_frustum([0.1, -0.2, 1.0, 1.0], centre, radius, 64)
    with pytest.raises(DataError, match="zero direction"):
        normalize_light([0.0, 0.0, 0.0, 0.0])
    with pytest.raises(DataError, match=r"expected \(x, y, z, 1\)"):
        normalize_light([0.0, 0.0, 1.0, 0.5])


def down_light(S: int = 16, occluder: float | None = 5.0, cols: int | None = None):
    """A directional light straight down (-z) on [-1, 1]² (eye at z = 10): depth = 10 - z.
    An occluder at z = occluder fills the first ``cols`` columns (x < 0 for cols = S / 2)."""
    depth = torch.full((1, S, S), math.inf)
    if occluder is not None:
        depth[:, :, : S // 2 if cols is None else cols] = 10.0 - occluder
    M = torch.tensor([[[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, -1, 10], [0, 0, 0, 1]]])
    return depth, M, torch.tensor([[2.0 / S, 0.0]]), torch.tensor([[0.0, 0.0, 1.0, 0.0]])


def ground_points(x: torch.Tensor, y: float = 0.1, z: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    pos = torch.stack([x, torch.full_like(x, y), torch.full_like(x, z)]).reshape(1, 3, 1, -1)
    normal = torch.zeros_like(pos)
    normal[:, 2] = 1
    return pos, normal


@pytest.mark.parametrize("radius", [0.5, 1.0, 1.5, 2.25])
def test_pcf_edge_is_a_linear_ramp_over_the_box(radius):
    """Box-filtered tests across a straight edge: visibility rises linearly from 0 to 1 over
    2 pcf_radius texels centred on the edge, for any radius (the soft edge moves continuously)."""
    S = 16
    depth, M, texel, light = down_light(S)
    x = torch.linspace(-0.6, 0.6, 241)
    pos, normal = ground_points(x)
    vis = pcf_visibility(depth, M, texel, pos, normal, light, pcf_radius=radius).flatten()
    edge_in_texels = x / (2.0 / S)
    want = (0.5 + edge_in_texels / (2 * radius)).clamp(0, 1)
    torch.testing.assert_close(vis, want, atol=1e-5, rtol=0)


def test_pcf_radius_zero_is_a_hard_nearest_texel_test():
    depth, M, texel, light = down_light(16)
    pos, normal = ground_points(torch.tensor([-0.01, 0.01, -0.9, 0.9]))
    vis = pcf_visibility(depth, M, texel, pos, normal, light, pcf_radius=0.0)
    assert vis.flatten().tolist() == [0.0, 1.0, 0.0, 1.0]


def test_pcf_lit_off_the_map_behind_the_light_and_in_front_of_the_occluder():
    depth = torch.full((1, 16, 16), 5.0)  # occluder everywhere, at z = 5
    _, M, texel, light = down_light(16)
    pos, normal = ground_points(torch.tensor([0.0, 1.5, -3.0, 0.0]))
    pos[0, 2, 0, 3] = 6.0  # above the occluder
    vis = pcf_visibility(depth, M, texel, pos, normal, light)
    assert vis.flatten().tolist() == [0.0, 1.0, 1.0, 1.0]
    # a point light at z = 10 looking down: a point above it (w < 0) is behind it
    P = torch.tensor([[[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, -1, 10], [0, 0, -1, 10]]])
    pos, normal = ground_points(torch.tensor([0.0, 0.0]))
    pos[0, 2, 0, 1] = 12.0
    vis = pcf_visibility(depth, P, torch.tensor([[0.0, 2.0 / 16]]), pos, normal, torch.tensor([[0.0, 0.0, 10.0, 1.0]]))
    assert vis.flatten().tolist() == [0.0, 1.0]


def test_pcf_slope_bias_removes_acne_on_a_tilted_receiver():
    """A plane z = 0.8 x seen from above shadows itself without bias (the taps' texels sit up to
    2 texels away, higher up the slope) and not with the default slope-scaled bias."""
    S, slope = 64, 0.8
    centres = (torch.arange(S) + 0.5) * (2.0 / S) - 1.0
    depth = (10.0 - slope * centres).expand(1, S, S).contiguous()  # z = 0.8 x at texel centres
    _, M, texel, light = down_light(S, occluder=None)
    x = torch.rand(4000, generator=torch.Generator().manual_seed(0)) * 1.6 - 0.8
    pos, _ = ground_points(x)
    pos[0, 2] = slope * pos[0, 0]
    normal = torch.tensor([-slope, 0.0, 1.0]) / math.hypot(slope, 1.0)
    normal = normal.reshape(1, 3, 1, 1).expand_as(pos)
    biased = pcf_visibility(depth, M, texel, pos, normal, light, bias=DEFAULT_BIAS)
    assert (biased == 1).all()
    unbiased = pcf_visibility(depth, M, texel, pos, normal, light, bias=(0.0, 0.0))
    assert unbiased.mean() < 0.9


def test_pcf_mask_map_index_border_and_shapes():
    depth, M, texel, light = down_light(16)
    pos, normal = ground_points(torch.linspace(-0.9, 0.9, 6))
    one = pcf_visibility(depth, M, texel, pos, normal, light)
    # two batch items sharing one map; a mask zeroes the second item's first pixels
    mask = torch.ones(2, 1, 1, 6)
    mask[1, :, :, :3] = 0
    two = pcf_visibility(depth, M, texel, pos.expand(2, -1, -1, -1), normal.expand(2, -1, -1, -1), light.expand(2, 4),
                         mask, torch.tensor([0, 0]))
    assert torch.equal(two[0], one[0]) and torch.equal(two[1, :, :, 3:], one[0, :, :, 3:])
    assert (two[1, :, :, :3] == 0).all()
    # maps given with their inf border give the same result without a padded copy
    padded = pcf_visibility(pad_depth(depth, 4), M, texel, pos, normal, light, border=4)
    assert torch.equal(padded, one)
    with pytest.raises(DataError, match="depth: 1 maps for a batch of 2"):
        pcf_visibility(depth, M, texel, pos.expand(2, -1, -1, -1), normal.expand(2, -1, -1, -1), light.expand(2, 4))
    with pytest.raises(DataError, match=r"position: expected shape \(B 3 H W\), got \(3, 1, 6\)"):
        pcf_visibility(depth, M, texel, pos[0], normal, light)
