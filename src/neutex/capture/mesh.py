"""Mesh IO (OBJ, PLY) with per-vertex uvs, smooth normals, and UV unwrapping (xatlas).

A :class:`Mesh` keeps one uv per vertex: a vertex on a uv seam is split into as many vertices
as it has distinct (position, uv, normal) corners, so the rasterizer interpolates uvs without
smearing across seams. OBJ is parsed here (trimesh's OBJ loader drops ``vn`` and, with
``maintain_order=True``, mixes up the uvs of seam vertices); PLY goes through trimesh.

uvs follow the OBJ convention: ``[0, 1]²`` with v pointing up.

xatlas segfaults on large meshes (around 80k faces), so :func:`unwrap_uvs` runs it in a
subprocess and refuses meshes above ``max_faces``: a crash becomes a :class:`CaptureError`,
never the end of the calling process.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from neutex.errors import CaptureError

#: xatlas is run on at most this many faces by default (it segfaults around 80k).
UNWRAP_MAX_FACES = 60_000


@dataclass
class Mesh:
    """A triangle mesh with optional per-vertex uvs and normals.

    Attributes:
        vertices: ``(N, 3)`` float32 world-space positions.
        faces: ``(F, 3)`` int32 vertex indices, counter-clockwise seen from outside.
        uvs: ``(N, 2)`` float32 in [0, 1]², v up (OBJ convention), or None.
        normals: ``(N, 3)`` float32 unit vertex normals, or None.
        source: where it was read from (for messages).
    """

    vertices: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray | None = None
    normals: np.ndarray | None = None
    source: str = "<mesh>"

    def __post_init__(self) -> None:
        self.vertices = np.ascontiguousarray(self.vertices, np.float32).reshape(-1, 3)
        self.faces = np.ascontiguousarray(self.faces, np.int32).reshape(-1, 3)
        n = len(self.vertices)
        if self.uvs is not None:
            self.uvs = np.ascontiguousarray(self.uvs, np.float32).reshape(-1, 2)
            if len(self.uvs) != n:
                raise CaptureError(f"{self.source}: {len(self.uvs)} uvs for {n} vertices")
        if self.normals is not None:
            self.normals = np.ascontiguousarray(self.normals, np.float32).reshape(-1, 3)
            if len(self.normals) != n:
                raise CaptureError(f"{self.source}: {len(self.normals)} normals for {n} vertices")
        if len(self.faces) and (self.faces.min() < 0 or self.faces.max() >= n):
            raise CaptureError(f"{self.source}: face index out of range (0..{n - 1})")

    def with_normals(self) -> Mesh:
        """This mesh, with smooth vertex normals computed when it has none."""
        if self.normals is not None:
            return self
        return replace(self, normals=smooth_normals(self.vertices, self.faces))


def smooth_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted smooth vertex normals ``(N, 3)`` float32, unit.

    Vertices at the same position (split at uv seams) share one normal, so seams do not show
    in the normal buffer. Isolated vertices get ``(0, 0, 1)``.
    """
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])  # length = 2 * area
    _, group = np.unique(v, axis=0, return_inverse=True)
    group = group.reshape(-1)
    acc = np.zeros((group.max() + 1 if len(group) else 0, 3))
    for k in range(3):
        np.add.at(acc, group[f[:, k]], fn)
    n = acc[group]
    length = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.where(length > 1e-20, n / np.maximum(length, 1e-30), [0.0, 0.0, 1.0])
    return n.astype(np.float32)


# ----------------------------------------------------------------------------- OBJ


def _parse_obj(path: Path) -> Mesh:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise CaptureError(f"{path}: cannot read mesh ({exc.strerror})") from None
    v: list[list[str]] = []
    vt: list[list[str]] = []
    vn: list[list[str]] = []
    corners: list[tuple[str, int, int, int]] = []  # (token, #v, #vt, #vn at that line)
    polys: list[int] = []  # corners per face
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.lstrip()
        if not line or line[0] not in "vf":
            continue
        parts = line.split()
        tag = parts[0]
        if tag == "v":
            if len(parts) < 4:
                raise CaptureError(f"{path}: line {lineno}: a vertex needs 3 coordinates")
            v.append(parts[1:4])
        elif tag == "vt":
            if len(parts) < 3:
                raise CaptureError(f"{path}: line {lineno}: a texture coordinate needs u and v")
            vt.append(parts[1:3])
        elif tag == "vn":
            if len(parts) < 4:
                raise CaptureError(f"{path}: line {lineno}: a normal needs 3 coordinates")
            vn.append(parts[1:4])
        elif tag == "f":
            if len(parts) < 4:
                raise CaptureError(f"{path}: line {lineno}: a face needs at least 3 vertices")
            nv, nt, nn = len(v), len(vt), len(vn)
            corners.extend((tok, nv, nt, nn) for tok in parts[1:])
            polys.append(len(parts) - 1)
    if not v or not polys:
        raise CaptureError(f"{path}: no {'vertices' if not v else 'faces'} found (is it a mesh OBJ?)")
    try:
        pos = np.array(v, np.float64)
        tex = np.array(vt, np.float64).reshape(-1, 2)
        nrm = np.array(vn, np.float64).reshape(-1, 3)
    except ValueError:
        raise CaptureError(f"{path}: non-numeric vertex data") from None
    idx = np.full((len(corners), 3), -1, np.int64)
    try:
        for c, (tok, nv, nt, nn) in enumerate(corners):
            fields = tok.split("/")
            for k, (s, count) in enumerate(zip(fields[:3], (nv, nt, nn))):
                if s:
                    i = int(s)
                    idx[c, k] = i - 1 if i > 0 else count + i
    except ValueError:
        raise CaptureError(f"{path}: malformed face entry {tok!r}") from None
    for k, (name, count) in enumerate((("vertex", len(pos)), ("texture", len(tex)), ("normal", len(nrm)))):
        used = idx[:, k][idx[:, k] != -1] if k else idx[:, 0]
        if len(used) and (used.min() < 0 or used.max() >= count):
            raise CaptureError(f"{path}: face refers to {name} index out of range (there are {count})")
    has_t = idx[:, 1] >= 0
    has_n = idx[:, 2] >= 0
    if has_t.any() and not has_t.all():
        raise CaptureError(f"{path}: {int((~has_t).sum())} face corners have no texture coordinate "
                           "(either every face has uvs or none)")
    if not has_n.all():
        idx[:, 2] = -1
    # one output vertex per distinct (v, vt, vn) corner
    uniq, inverse = np.unique(idx, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    # fan-triangulate polygons
    polys_a = np.asarray(polys)
    starts = np.r_[0, np.cumsum(polys_a)[:-1]]
    tri = []
    for n_c in np.unique(polys_a):
        s = starts[polys_a == n_c]
        for k in range(1, n_c - 1):
            tri.append(np.stack([s, s + k, s + k + 1], 1))
    # keep the file's face order for triangles (stable for the common all-triangle case)
    faces_c = np.concatenate(tri) if len(tri) > 1 else tri[0]
    if len(tri) > 1:
        faces_c = faces_c[np.argsort(faces_c[:, 0], kind="stable")]
    faces = inverse[faces_c]
    uvs = tex[uniq[:, 1]] if has_t.all() else None
    normals = None
    if has_n.all():
        nv_ = nrm[uniq[:, 2]]
        length = np.linalg.norm(nv_, axis=1, keepdims=True)
        if (length > 1e-12).all():
            normals = nv_ / length
    return Mesh(pos[uniq[:, 0]], faces, uvs, normals, source=str(path))


# ----------------------------------------------------------------------------- PLY


def _parse_ply(path: Path) -> Mesh:
    from trimesh.exchange.ply import load_ply  # heavy optional dependency: imported only for a PLY

    try:
        with open(path, "rb") as fh:
            d = load_ply(fh)
    except OSError as exc:
        raise CaptureError(f"{path}: cannot read mesh ({exc.strerror})") from None
    except Exception as exc:  # trimesh raises many kinds on malformed files
        raise CaptureError(f"{path}: cannot parse PLY ({type(exc).__name__}: {exc})") from None
    verts = d.get("vertices")
    faces = d.get("faces")
    if verts is None or faces is None or len(faces) == 0:
        raise CaptureError(f"{path}: PLY has no faces (a point cloud is not a mesh)")
    faces = np.asarray(faces)
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise CaptureError(f"{path}: PLY faces must be triangles or quads")
    vis = d.get("visual")
    uvs = getattr(vis, "uv", None)
    if uvs is not None and len(uvs) != len(verts):
        uvs = None
    normals = d.get("vertex_normals")
    if normals is not None:
        normals = np.asarray(normals, np.float64)
        length = np.linalg.norm(normals, axis=1, keepdims=True) if len(normals) == len(verts) else None
        normals = normals / length if length is not None and (length > 1e-12).all() else None
    return Mesh(verts, faces, uvs, normals, source=str(path))


def load_mesh(path: str | Path) -> Mesh:
    """Read an OBJ or PLY triangle mesh, keeping per-vertex uvs; normals are computed when absent.

    Args:
        path: ``.obj`` or ``.ply`` file.

    Returns:
        A :class:`Mesh` with ``normals`` always set and ``uvs`` set when the file has them
        (OBJ ``vt``; PLY ``texture_u/texture_v``, ``u/v`` or ``s/t``).

    Raises:
        CaptureError: a missing, unreadable or malformed file, naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise CaptureError(f"{path}: mesh file not found")
    suffix = path.suffix.lower()
    if suffix == ".obj":
        mesh = _parse_obj(path)
    elif suffix == ".ply":
        mesh = _parse_ply(path)
    else:
        raise CaptureError(f"{path}: unsupported mesh format {suffix!r} (use .obj or .ply)")
    if not np.isfinite(mesh.vertices).all():
        raise CaptureError(f"{path}: vertex positions contain NaN or inf")
    return mesh.with_normals()


def save_mesh(mesh: Mesh, path: str | Path) -> Path:
    """Write ``mesh`` as an OBJ (``v``, ``vt`` when it has uvs, ``vn`` when it has normals), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# written by neutex"]
    lines += [f"v {x:.7g} {y:.7g} {z:.7g}" for x, y, z in mesh.vertices.tolist()]
    if mesh.uvs is not None:
        lines += [f"vt {u:.7g} {v:.7g}" for u, v in mesh.uvs.tolist()]
    if mesh.normals is not None:
        lines += [f"vn {x:.7g} {y:.7g} {z:.7g}" for x, y, z in mesh.normals.tolist()]
    f1 = (mesh.faces + 1).tolist()
    if mesh.uvs is not None and mesh.normals is not None:
        lines += [f"f {a}/{a}/{a} {b}/{b}/{b} {c}/{c}/{c}" for a, b, c in f1]
    elif mesh.uvs is not None:
        lines += [f"f {a}/{a} {b}/{b} {c}/{c}" for a, b, c in f1]
    elif mesh.normals is not None:
        lines += [f"f {a}//{a} {b}//{b} {c}//{c}" for a, b, c in f1]
    else:
        lines += [f"f {a} {b} {c}" for a, b, c in f1]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)
    return path


# ----------------------------------------------------------------------------- unwrap

_XATLAS_SCRIPT = """
import sys, numpy as np, xatlas
d = np.load(sys.argv[1])
vmap, idx, uvs = xatlas.parametrize(d["vertices"], d["faces"])
np.savez(sys.argv[2], vmap=vmap, faces=idx, uvs=uvs)
"""


def unwrap_uvs(mesh: Mesh, max_faces: int = UNWRAP_MAX_FACES, timeout: float = 900.0) -> Mesh:
    """Give a mesh without uvs an automatic UV atlas (xatlas), run in a subprocess.

    Vertices are split along the atlas seams; normals are carried over from the input (computed
    first when absent, so they stay smooth across the new seams).

    Args:
        mesh: the mesh; its uvs, if any, are replaced.
        max_faces: refuse meshes with more faces (xatlas segfaults around 80k faces).
        timeout: seconds before the unwrap is abandoned.

    Raises:
        CaptureError: too many faces, or xatlas crashed / timed out (the message says how to
            give the mesh uvs instead).
    """
    mesh = mesh.with_normals()
    fix = "give the mesh uvs (e.g. Blender: Smart UV Project) or decimate it, then export it as OBJ with vt"
    if len(mesh.faces) > max_faces:
        raise CaptureError(f"{mesh.source}: has no uvs and {len(mesh.faces)} faces; automatic unwrapping "
                           f"(xatlas) is limited to {max_faces} faces because it crashes on larger meshes",
                           hint=fix)
    with tempfile.TemporaryDirectory(prefix="neutex-xatlas-") as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(src, vertices=mesh.vertices, faces=mesh.faces.astype(np.uint32))
        try:
            proc = subprocess.run([sys.executable, "-c", _XATLAS_SCRIPT, str(src), str(dst)],
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise CaptureError(f"{mesh.source}: UV unwrapping (xatlas) took longer than {timeout:.0f} s", hint=fix) from None
        if proc.returncode != 0 or not dst.is_file():
            why = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit code {proc.returncode}"
            last = (proc.stderr.strip().splitlines() or [""])[-1]
            raise CaptureError(f"{mesh.source}: UV unwrapping (xatlas) failed ({why}{': ' + last if last else ''})", hint=fix)
        out = np.load(dst)
        vmap, faces, uvs = out["vmap"].astype(np.int64), out["faces"], out["uvs"]
    return Mesh(mesh.vertices[vmap], faces, uvs, mesh.normals[vmap], source=mesh.source)
