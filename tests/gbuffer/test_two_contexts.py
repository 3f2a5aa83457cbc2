"""A Rasterizer and a ShadowCaster in one process (the viewer, orbit videos of a shadowed
model): each makes its own GL context current before drawing, so neither draws into the
other's. (Before, the shadow maps drawn after a Rasterizer was created were garbage.)"""

import numpy as np
import trimesh

from neutex.capture import look_at, pinhole_K
from neutex.capture.mesh import Mesh
from neutex.capture.schema import Camera
from neutex.gbuffer import Rasterizer
from neutex.gbuffer.shadow import ShadowCaster


def test_rasterizer_and_shadow_caster_keep_their_contexts(egl):
    s = trimesh.creation.icosphere(2, radius=0.7)
    v = np.asarray(s.vertices)
    mesh = Mesh(v, np.asarray(s.faces), np.zeros((len(v), 2)), v / np.linalg.norm(v, axis=1, keepdims=True))
    cam = Camera("c", 24, 24, look_at([0, -3, 0.5], [0, 0, 0], [0, 0, 1]), K=pinhole_K(24, 24, 40.0))
    lights = [np.array([2.0, -2.0, 2.0, 1.0]), np.array([-2.0, -1.0, 1.0, 1.0])]
    alone = ShadowCaster(mesh, resolution=64)
    ref = [alone.depth_map(l).depth.clone() for l in lights]
    alone.release()
    caster = ShadowCaster(mesh, resolution=64)
    first = caster.depth_map(lights[0]).depth
    rast = Rasterizer()  # now current in this thread
    g1 = rast.render(mesh, cam)
    second = caster.depth_map(lights[1]).depth  # drawn after the Rasterizer's context was made
    g2 = rast.render(mesh, cam)
    assert np.array_equal(first.numpy(), ref[0].numpy()) and np.array_equal(second.numpy(), ref[1].numpy())
    assert g1["mask"].sum() > 50 and all(np.array_equal(g1[k], g2[k]) for k in g1)
    rast.release()
    caster.release()
    # both are GLResources: released, each refuses to draw in one clear line, the maps stay readable
    for draw in (lambda: rast.render(mesh, cam), lambda: caster.depth_map(np.array([0.0, 2.0, 2.0, 1.0]))):
        try:
            draw()
        except RuntimeError as exc:
            assert "used after release()" in str(exc)
        else:
            raise AssertionError("drew after release()")
    assert np.array_equal(caster.depth_map(lights[1]).depth.numpy(), ref[1].numpy())
