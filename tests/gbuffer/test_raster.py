import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.ndimage import binary_erosion

from neutex.capture import Camera, look_at, pinhole_K
from neutex.capture.mesh import Mesh
from neutex.gbuffer import project_points, rasterize_gbuffers, rasterize_oracle
from neutex.geometry import uv_to_grid


def ortho_identity(w=10, h=8):
    """world x,y = pixel coordinates: camera at the origin looking down +z, 1 px per unit."""
    return Camera("o", w, h, np.eye(4), model="orthographic", scale=(1.0, 1.0), center=(0.0, 0.0))


def quad(x0, x1, y0, y1, z=1.0, uv=True):
    v = [[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]]
    # image y is down: (x0, y1) is the bottom-left corner on screen, where uv = (0, 0)
    uvs = [[0, 1], [1, 1], [1, 0], [0, 0]] if uv else None
    return Mesh(v, [[0, 1, 2], [0, 2, 3]], uvs, [[0, 0, -1]] * 4)


# ---------------------------------------------------------------- half-pixel convention


@pytest.mark.parametrize("impl", ["oracle", "gl"])
def test_half_pixel_quad_edges(impl, request):
    """Edges at x = 2.75 and 6.25 cover pixel centres 3..6; a half-pixel slip would give 4..6 or 3..5."""
    cam = ortho_identity()
    mesh = quad(2.75, 6.25, 1.75, 4.25)
    g = rasterize_oracle(mesh, cam) if impl == "oracle" else request.getfixturevalue("rasterizer").render(mesh, cam)
    want = np.zeros((8, 10), bool)
    want[2:5, 3:7] = True  # rows 2..4 (row 0 = top), columns 3..6
    assert (g["mask"] == want).all(), g["mask"].astype(int)


@pytest.mark.parametrize("model", ["pinhole", "orthographic"])
def test_half_pixel_tiny_triangle_hits_one_pixel(rasterizer, model):
    """A triangle of radius 0.3 px around the point that projects to pixel (5, 7) covers exactly
    pixel column 5, row 7 (pins both the half-pixel and the row-0-is-top conventions)."""
    W, H = 12, 10
    w2c = look_at([0.3, -4, 1], [0, 0, 0], [0, 0, 1])
    if model == "pinhole":
        cam = Camera("p", W, H, w2c, K=pinhole_K(W, H, 40.0))
    else:
        cam = Camera("o", W, H, w2c, "orthographic", scale=(4.0, 4.0), center=((W - 1) / 2, (H - 1) / 2))
    c2w = np.linalg.inv(w2c)
    depth = 4.0
    if model == "pinhole":
        ray = np.linalg.inv(cam.K) @ [5.0, 7.0, 1.0]
        pc = ray * depth
        r = 0.3 / cam.K[0, 0] * depth
    else:
        pc = np.array([(5 - cam.center[0]) / 4.0, (7 - cam.center[1]) / 4.0, depth])
        r = 0.3 / 4.0
    corners = [pc + r * np.array([np.cos(a), np.sin(a), 0]) for a in (0.3, 2.4, 4.5)]
    world = [c2w[:3, :3] @ c + c2w[:3, 3] for c in corners]
    mesh = Mesh(world, [[0, 1, 2]], [[0, 0]] * 3)
    np.testing.assert_allclose(project_points(cam, np.mean(world, 0)[None]), [[5.0, 7.0]], atol=0.05)
    g = rasterizer.render(mesh, cam)
    assert g["mask"].sum() == 1 and g["mask"][7, 5]
    assert rasterize_oracle(mesh, cam)["mask"][7, 5]


def test_position_projects_back_to_its_pixel(rasterizer, sphere):
    for cam in (Camera("p", 40, 30, look_at([2.5, -1.5, 1.2], [0, 0, 0], [0, 0, 1]), K=pinhole_K(40, 30, 60.0)),
                Camera("o", 40, 30, look_at([0, -3, 0], [0, 0, 0], [0, 0, 1]), "orthographic", scale=(12.0, 12.0),
                       center=(19.5, 14.5))):
        g = rasterizer.render(sphere, cam)
        jj, ii = np.nonzero(g["mask"])
        px = project_points(cam, g["position"][jj, ii])
        np.testing.assert_allclose(px, np.stack([ii, jj], 1), atol=2e-3)


# ---------------------------------------------------------------- GL vs the numpy oracle


@pytest.mark.parametrize("model", ["pinhole", "orthographic"])
def test_gl_matches_the_oracle(rasterizer, sphere, model):
    W, H = 48, 40  # not square: catches transposed axes
    w2c = look_at([0.4, -2.6, 1.1], [0.05, 0, 0], [0, 0, 1])
    if model == "pinhole":
        cam = Camera("p", W, H, w2c, K=np.array([[50.0, 0, 23.1], [0, 52.0, 20.3], [0, 0, 1]]))
    else:
        cam = Camera("o", W, H, w2c, "orthographic", scale=(15.0, 14.0), center=(22.7, 19.2))
    g = rasterizer.render(sphere, cam)
    ref = rasterize_oracle(sphere, cam)
    assert g["mask"].sum() > 300
    assert (g["mask"] == ref["mask"]).mean() >= 0.99
    inner = binary_erosion(g["mask"] & ref["mask"], iterations=1)
    # uv jumps at the atlas seam (u wraps around): compare away from it
    inner &= (np.abs(ref["uv"][..., 0] - 0.5) < 0.45)
    for key, tol in (("uv", 1e-4), ("normal", 1e-4), ("position", 1e-4), ("depth", 1e-4)):
        np.testing.assert_allclose(g[key][inner], ref[key][inner], atol=tol, err_msg=key)
    np.testing.assert_allclose(np.linalg.norm(g["normal"][g["mask"]], axis=-1), 1.0, atol=1e-5)
    assert (g["depth"][g["mask"]] > 0).all()
    assert g["uv"].dtype == np.float32 and g["mask"].dtype == bool and g["depth"].shape == (H, W)
    assert not g["position"][~g["mask"]].any()


def test_orthographic_sphere_area_and_depth(rasterizer, make_sphere):
    mesh = make_sphere(4, radius=0.5)
    cam = Camera("o", 64, 64, look_at([0, 0, 5], [0, 0, 0], [0, 1, 0]), "orthographic", scale=(40.0, 40.0), center=(31.5, 31.5))
    g = rasterizer.render(mesh, cam)
    area = np.pi * (0.5 * 40) ** 2
    assert abs(g["mask"].sum() - area) / area < 0.03
    # centre pixel area: nearest point of the sphere is at camera z = 5 - 0.5
    assert g["depth"][31:33, 31:33].min() == pytest.approx(4.5, abs=0.02)
    assert g["normal"][31:33, 31:33, 2].min() > 0.99  # facing the camera at +z world


def test_uv_v_up_known_texel(rasterizer):
    """A quad facing the camera with uv (0,0) at the bottom-left: the top of the image has v≈1,
    and a texture whose row 0 (top) is bright appears at the top of the render."""
    cam = ortho_identity(16, 16)
    mesh = quad(-0.5, 15.5, -0.5, 15.5)  # covers every pixel; uv (0,0) at the bottom-left on screen
    g = rasterizer.render(mesh, cam)
    assert g["mask"].all()
    assert g["uv"][0, :, 1].min() > 0.9 and g["uv"][-1, :, 1].max() < 0.1  # v up
    assert g["uv"][:, 0, 0].max() < 0.1 and g["uv"][:, -1, 0].min() > 0.9  # u right
    tex = torch.zeros(1, 1, 4, 4)
    tex[0, 0, 0, 3] = 1.0  # texel in the top-right corner of the texture image
    grid = uv_to_grid(torch.from_numpy(g["uv"]))[None]
    img = F.grid_sample(tex, grid, mode="nearest", align_corners=False)[0, 0]
    assert img[:4, 12:].min() == 1 and img.sum() == 16  # the top-right 4x4 pixels


def test_rasterizer_reuse_and_function(rasterizer, sphere):
    a = rasterizer.render(sphere, Camera("a", 24, 16, look_at([0, -3, 0], [0, 0, 0], [0, 0, 1]), K=pinhole_K(24, 16, 50)))
    b = rasterizer.render(sphere, Camera("b", 16, 24, look_at([3, 0, 0], [0, 0, 0], [0, 0, 1]), K=pinhole_K(16, 24, 50)))
    assert a["mask"].shape == (16, 24) and b["mask"].shape == (24, 16) and a["mask"].any() and b["mask"].any()
    c = rasterize_gbuffers(sphere, Camera("a", 24, 16, look_at([0, -3, 0], [0, 0, 0], [0, 0, 1]), K=pinhole_K(24, 16, 50)))
    np.testing.assert_array_equal(a["mask"], c["mask"])

