"""DiLiGenT photometric-stereo objects -> a single-view neutex capture.

A DiLiGenT object folder (``pmsData/<name>PNG/``) holds ``001.png`` ... (16-bit RGB PNGs),
``filenames.txt`` (the image names, in light order), ``light_directions.txt`` and
``light_intensities.txt`` (one ``x y z`` / ``r g b`` row per image), ``mask.png`` and
``Normal_gt.mat`` (variable ``Normal_gt``, H x W x 3).

Frames. DiLiGenT gives directions and normals in its camera frame: x right, y up, z towards
the viewer (out of the image); image row 0 is the top. The capture's world frame *is* that
frame, so light directions and normals are copied unchanged, the world's up is +y, and the
one orthographic camera (OpenCV: x right, y down, z forward) has
``world_to_camera = [[1,0,0,0],[0,-1,0,0],[0,0,-1,D],[0,0,0,1]]`` (D = max(W, H), so the
object at z ~ 0 lies in front of it), ``scale = [1, 1]`` (one pixel per world unit) and
``center = ((W-1)/2, (H-1)/2)``: pixel (column i, row j) sees world (i - cx, cy - j, z).
See docs/capture.md.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Callable

import numpy as np

from neutex.capture.imageio import png_bit_depth, read_image, read_mask, write_exr, write_png_codes
from neutex.capture.schema import Camera, Capture, Frame, Light, Sequence, save_capture
from neutex.errors import CaptureError

NORMAL_FILES = ("Normal_gt.mat", "Normal_gt.npy", "Normal_gt.txt")
SEQUENCE_FPS = 10.0
#: largest share of the object's pixels allowed to lack a valid ground-truth normal (they are
#: dropped from the mask, and the importer says so); more is an error.
MAX_BAD_NORMALS = 0.01


def _read_table(path: Path, ncols: int, what: str) -> np.ndarray:
    """A text file of rows of ``ncols`` numbers (blank lines skipped) -> ``(N, ncols)`` float64."""
    if not path.is_file():
        raise CaptureError(f"{path}: file not found ({what})")
    rows = []
    for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        parts = line.replace(",", " ").split()
        if not parts:
            continue
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            vals = []
        if len(vals) != ncols or not np.isfinite(vals).all():
            raise CaptureError(f"{path} line {lineno}: expected {ncols} numbers ({what}), got {line.strip()[:60]!r}")
        rows.append(vals)
    if not rows:
        raise CaptureError(f"{path}: empty ({what})")
    return np.asarray(rows, np.float64)


def _png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk (the signature is checked by png_bit_depth)."""
    with open(path, "rb") as f:
        head = f.read(24)
    return struct.unpack(">II", head[16:24])


def _read_filenames(src: Path) -> list[str]:
    path = src / "filenames.txt"
    if not path.is_file():
        raise CaptureError(f"{path}: file not found (the list of image names, in light order)")
    names = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    if not names:
        raise CaptureError(f"{path}: empty (the list of image names, in light order)")
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        if n in seen:
            raise CaptureError(f"{path} line {i + 1}: {n} is listed twice (also line {seen[n] + 1})")
        seen[n] = i
    return names


def read_diligent_normals(src: Path, shape: tuple[int, int]) -> tuple[np.ndarray, Path]:
    """Read the ground-truth normals ``(H, W, 3)`` float64 (DiLiGenT camera frame).

    Looks for ``Normal_gt.mat`` (MATLAB v5, variable ``Normal_gt``; v7.3/HDF5 needs h5py),
    then ``Normal_gt.npy`` (``(H, W, 3)``), then ``Normal_gt.txt`` (H*W rows of ``x y z``,
    row-major: the top row first, each row left to right).
    """
    h, w = shape
    for name in NORMAL_FILES:
        path = src / name
        if path.is_file():
            break
    else:
        raise CaptureError(f"{src}: no ground-truth normals ({', '.join(NORMAL_FILES)})")
    if path.suffix == ".mat":
        n = _read_mat_normals(path)
    elif path.suffix == ".npy":
        try:
            n = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise CaptureError(f"{path}: cannot read ({exc})") from None
    else:
        n = _read_table(path, 3, "normals: H*W rows of x y z, row-major").reshape(-1, 3)
        if len(n) != h * w:
            raise CaptureError(f"{path}: {len(n)} rows, expected H*W = {h}*{w} = {h * w} (one per pixel, row-major)")
        n = n.reshape(h, w, 3)
    n = np.asarray(n)
    if n.shape != (h, w, 3) or not np.issubdtype(n.dtype, np.number):
        raise CaptureError(f"{path}: normals are {n.dtype} {n.shape}, expected ({h}, {w}, 3) like the images")
    return n.astype(np.float64), path


def _read_mat_normals(path: Path) -> np.ndarray:
    import scipy.io  # heavy optional dependency: imported only for a .mat file

    try:
        mat = scipy.io.loadmat(str(path))
    except NotImplementedError:  # MATLAB v7.3 is HDF5
        try:  # optional dependency, not installed by default: only MATLAB v7.3 files need it
            import h5py
        except ImportError:
            raise CaptureError(f"{path}: MATLAB v7.3 (HDF5) file, which needs h5py; pip install h5py, or save "
                               "Normal_gt as Normal_gt.npy (H x W x 3) beside it and remove the .mat") from None
        with h5py.File(path, "r") as f:
            if "Normal_gt" not in f:
                raise CaptureError(f"{path}: no variable 'Normal_gt' (has {', '.join(sorted(f.keys()))})")
            return np.asarray(f["Normal_gt"]).T  # HDF5 stores MATLAB's column-major array transposed
    except Exception as exc:
        raise CaptureError(f"{path}: cannot read MATLAB file, truncated or corrupt ({exc})") from None
    if "Normal_gt" not in mat:
        names = sorted(k for k in mat if not k.startswith("__"))
        raise CaptureError(f"{path}: no variable 'Normal_gt' (has {', '.join(names) or 'none'})")
    return np.asarray(mat["Normal_gt"])


def detect_light_rows(directions: np.ndarray, n_rows: int | None = None, where: str = "light_directions.txt",
                      cone_deg: float = 30.0) -> list[list[int]]:
    """Group the lights of a (near-)planar light grid into horizontal rows, each left to right.

    The lights are projected onto the plane z = 1 (``(x/z, y/z)``: a planar grid facing the
    object stays a grid, up to perspective). The grid's roll is the median angle of the
    nearest-neighbour vectors (folded onto one axis). Each light is linked to its nearest
    neighbour to the right within ``cone_deg`` of the row axis when that link is mutual; the
    chains of links are the rows. The rows are accepted as a grid only when each holds at
    least 2 lights, lies on a straight line (residual < 0.4 grid spacing, the median
    nearest-neighbour distance) and the row lines keep their order, more than half a grid
    spacing apart, across the whole grid. Perspective (a tilted light frame), a rolled or
    sheared grid and calibration noise are all fine.

    Args:
        directions: ``(N, 3)`` unit vectors towards the lights, x right, y up, z towards the
            viewer (DiLiGenT's frame).
        n_rows: the expected number of rows (``--grid-rows``): checked, or None to accept
            what is found.
        where: the file named in errors.
        cone_deg: half-angle of the cone, around the row axis, in which a light's right
            neighbour is looked for.

    Returns:
        Rows top to bottom, each a list of light indices sorted left to right.

    Raises:
        CaptureError: ``wrong number of light rows`` when ``n_rows`` differs from the rows
            found, or the lights form no clear rows.

    Examples:
        >>> q, p = np.meshgrid([-0.4, 0.0, 0.4], [0.3, -0.3])
        >>> d = np.stack([q.ravel(), p.ravel(), np.ones(6)], 1)
        >>> detect_light_rows(d / np.linalg.norm(d, axis=1, keepdims=True))
        [[0, 1, 2], [3, 4, 5]]
    """
    d = np.asarray(directions, np.float64)
    n = len(d)
    if n_rows is not None and not 1 <= n_rows <= n:
        raise CaptureError(f"{where}: wrong number of light rows: --grid-rows {n_rows} for {n} lights")
    front = d[:, 2] > 0.05
    if not front.all():
        i = int(np.flatnonzero(~front)[0])
        raise CaptureError(f"{where} line {i + 1}: light is not in front of the object (z = {d[i, 2]:.3g}), so the "
                           "lights do not form a grid facing it; pass --no-sequences")
    pts = d[:, :2] / d[:, 2:3]
    rows = _chain_rows(pts, cone_deg) if n >= 2 else [[0]] * n
    if rows is None:
        hint = f"--grid-rows {n_rows}, but " if n_rows is not None else ""
        raise CaptureError(f"{where}: {'wrong number of light rows: ' if n_rows else ''}{hint}the lights form no "
                           "clear grid rows; pass --no-sequences")
    if n_rows is not None and len(rows) != n_rows:
        sizes = sorted({len(r) for r in rows})
        raise CaptureError(f"{where}: wrong number of light rows: --grid-rows {n_rows}, but the lights form "
                           f"{len(rows)} rows (of {', '.join(map(str, sizes))} lights)")
    return rows


def _chain_rows(pts: np.ndarray, cone_deg: float) -> list[list[int]] | None:
    """Rows of a 2-D point grid (see :func:`detect_light_rows`), or None if it is no grid."""
    n = len(pts)
    v = pts[None, :, :] - pts[:, None, :]  # v[i, j]: from light i to light j
    dist = np.linalg.norm(v, axis=-1)
    np.fill_diagonal(dist, np.inf)
    spacing = float(np.median(dist.min(1)))
    if spacing <= 1e-9:
        return None
    nn = v[np.arange(n), dist.argmin(1)]
    ang = np.arctan2(nn[:, 1], nn[:, 0])
    roll = float(np.median((ang + np.pi / 4) % (np.pi / 2) - np.pi / 4))  # both grid axes folded onto the row axis
    u, w = np.array([np.cos(roll), np.sin(roll)]), np.array([-np.sin(roll), np.cos(roll)])
    along, across = v @ u, v @ w
    cone = (along > 0) & (np.abs(across) <= np.tan(np.radians(cone_deg)) * along)
    d_right = np.where(cone, dist, np.inf)
    d_left = np.where(cone.T, dist, np.inf)
    right, left = d_right.argmin(1), d_left.argmin(1)
    linked = np.isfinite(d_right.min(1)) & np.isfinite(d_left[right].min(1)) & (left[right] == np.arange(n))
    has_left = np.zeros(n, bool)
    has_left[right[linked]] = True
    rows = []
    for start in np.flatnonzero(~has_left):
        row = [int(start)]
        while linked[row[-1]]:
            row.append(int(right[row[-1]]))
        rows.append(row)
    if sum(len(r) for r in rows) != n or min(len(r) for r in rows) < 2:
        return None
    a, c = pts @ u, pts @ w  # coordinates along and across the rows
    lines = []
    for row in rows:
        slope, icpt = np.polyfit(a[row], c[row], 1)
        if np.abs(c[row] - (slope * a[row] + icpt)).max() > 0.4 * spacing:
            return None
        lines.append((slope, icpt))
    lines = np.asarray(lines)
    ends = np.array([a.min(), np.median(a), a.max()])
    heights = lines[:, :1] * ends[None] + lines[:, 1:]  # (rows, 3): each row's line at both ends and the middle
    order = np.argsort(-heights[:, 1], kind="stable")  # top row first
    if len(rows) > 1 and (np.diff(heights[order], axis=0) > -0.5 * spacing).any():
        return None  # rows that come closer than half a spacing, or cross
    return [rows[i] for i in order]


def diligent_camera(width: int, height: int, cam_id: str = "cam00") -> Camera:
    """The orthographic capture camera of a DiLiGenT image (see the module docstring)."""
    w2c = np.diag([1.0, -1.0, -1.0, 1.0])
    w2c[2, 3] = float(max(width, height))
    return Camera(cam_id, width, height, w2c, "orthographic", scale=(1.0, 1.0),
                  center=((width - 1) / 2, (height - 1) / 2))


def _image_plane_buffers(cam: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uv (H, W, 2), world position on the plane z = 0 (H, W, 3) and camera depth (H, W)."""
    h, w = cam.height, cam.width
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
    uv = np.stack([(cols + 0.5) / w, 1.0 - (rows + 0.5) / h], -1)
    (sx, sy), (cx, cy) = cam.scale, cam.center
    pc = np.stack([(cols - cx) / sx, (rows - cy) / sy], -1)  # camera x, y of each pixel
    z_cam = cam.world_to_camera[2, 3]  # camera z of the world plane z = 0 (the camera looks along -z)
    pc3 = np.concatenate([pc, np.full((h, w, 1), z_cam)], -1)
    c2w = cam.camera_to_world
    position = pc3 @ c2w[:3, :3].T + c2w[:3, 3]
    depth = np.full((h, w), z_cam)
    return uv, position, depth


def import_diligent(src: str | Path, out: str | Path, *, grid_rows: int | None = None, sequences: bool = True,
                    divide_intensity: bool = True, overwrite: bool = False,
                    progress: Callable[[int, int], None] | None = None) -> Capture:
    """Convert a DiLiGenT object folder into a single-view capture in ``out``.

    Writes ``out/capture.json``, ``images/L###.exr`` (linear float32: code / 65535, divided by
    the light's RGB intensity unless ``divide_intensity`` is False), ``masks/L###.png`` (per
    frame: object and no channel saturated at 65535 in the original file), and
    ``gbuffer/{normal,uv,position,depth}.exr`` + ``gbuffer/mask.png`` (given G-buffers: the
    camera has no mesh). Light ``L###`` is the ###-th line of ``filenames.txt``.

    Args:
        src: the object folder (e.g. ``pmsData/ballPNG``).
        out: the capture folder to write.
        grid_rows: expected number of horizontal light rows (checked), or None to detect.
        sequences: write each light row, ordered left to right, as a sequence ``row##``.
        divide_intensity: divide each image by its light's intensity (the lights then have
            intensity 1); otherwise keep the images and give the lights their intensities.
        overwrite: allow replacing an existing ``out/capture.json``.
        progress: optional ``progress(i, n)`` per image.

    Returns:
        The written capture (also loadable with :func:`~neutex.capture.load_capture`).

    Raises:
        CaptureError: one line naming the file at fault (missing image, 8-bit image, a
            size mismatch, row counts of the text files, wrong number of light rows, ...).
    """
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise CaptureError(f"{src}: not a folder (expected a DiLiGenT object folder such as pmsData/ballPNG)")
    if out.resolve() == src.resolve():
        raise CaptureError(f"{out}: the output folder must differ from the DiLiGenT folder")
    if (out / "capture.json").exists() and not overwrite:
        raise CaptureError(f"{out / 'capture.json'}: already exists", hint="pass --overwrite or choose another --out")

    names = _read_filenames(src)
    n = len(names)
    dirs = _read_table(src / "light_directions.txt", 3, "light directions: x y z per image")
    intens = _read_table(src / "light_intensities.txt", 3, "light intensities: r g b per image")
    for path, table in ((src / "light_directions.txt", dirs), (src / "light_intensities.txt", intens)):
        if len(table) != n:
            raise CaptureError(f"{path}: {len(table)} rows for {n} images in filenames.txt (one row per image)")
    norms = np.linalg.norm(dirs, axis=1)
    bad = np.flatnonzero(np.abs(norms - 1) > 1e-2)
    if len(bad):
        raise CaptureError(f"{src / 'light_directions.txt'} line {bad[0] + 1}: not a unit vector (length {norms[bad[0]]:.4g})")
    dirs = dirs / norms[:, None]
    bad = np.flatnonzero((intens <= 0).any(1))
    if len(bad):
        raise CaptureError(f"{src / 'light_intensities.txt'} line {bad[0] + 1}: intensities must be positive, "
                           f"got {intens[bad[0]].tolist()}")
    rows = detect_light_rows(dirs, grid_rows, str(src / "light_directions.txt")) if sequences or grid_rows else None
    if sequences and rows is not None:
        for r, row in enumerate(rows):
            if len(row) < 3:
                raise CaptureError(f"{src / 'light_directions.txt'}: light row {r} has {len(row)} lights; a sequence "
                                   "needs at least 3 (pass --no-sequences)")

    # Check every image's header before writing anything; capture.json is written last, so a
    # folder that fails half-way (a truncated image) leaves no capture behind.
    size = None
    for i, name in enumerate(names):
        path = src / name
        if not path.is_file():
            raise CaptureError(f"{path}: file not found (filenames.txt line {i + 1})")
        if path.suffix.lower() != ".png":
            raise CaptureError(f"{path}: not a PNG; DiLiGenT images are 16-bit PNGs")
        depth = png_bit_depth(path)
        if depth != 16:
            raise CaptureError(f"{path}: {depth}-bit PNG; DiLiGenT images are 16-bit (an 8-bit copy has lost "
                               "precision: use the original files)")
        wh = _png_size(path)
        if size is None:
            size = wh
        elif wh != size:
            raise CaptureError(f"{path}: image is {wh[0]}x{wh[1]}, {names[0]} is {size[0]}x{size[1]} (one size for all)")
    w, h = size

    mask_path = src / "mask.png"
    if not mask_path.is_file():
        raise CaptureError(f"{mask_path}: file not found (the object mask)")
    obj_mask = read_mask(mask_path)
    if obj_mask.shape != (h, w):
        raise CaptureError(f"{mask_path}: mask is {obj_mask.shape[1]}x{obj_mask.shape[0]}, the images are {w}x{h}")
    if not obj_mask.any():
        raise CaptureError(f"{mask_path}: the mask is empty")
    normals, normal_path = read_diligent_normals(src, (h, w))
    lengths = np.linalg.norm(normals, axis=-1)
    good = np.isfinite(lengths) & (np.abs(lengths - 1) < 0.05)
    bad_normals = obj_mask & ~good
    notes = []
    if bad_normals.any():
        share = bad_normals.sum() / obj_mask.sum()
        if share > MAX_BAD_NORMALS:
            raise CaptureError(f"{normal_path}: {int(bad_normals.sum())} of {int(obj_mask.sum())} pixels inside mask.png "
                               "have no unit normal")
        notes.append(f"{normal_path.name}: {int(bad_normals.sum())} pixels inside mask.png have no unit normal; "
                     "they are left out of the object mask")
    gmask = obj_mask & good
    normals = np.where(gmask[..., None], normals / np.where(good, lengths, 1.0)[..., None], 0.0)

    cam = diligent_camera(w, h)
    uv, position, depth_buf = _image_plane_buffers(cam)
    out.mkdir(parents=True, exist_ok=True)
    write_exr(out / "gbuffer" / "normal.exr", normals.astype(np.float32), half=False)
    write_exr(out / "gbuffer" / "uv.exr", uv.astype(np.float32), half=False)
    write_exr(out / "gbuffer" / "position.exr", position.astype(np.float32), half=False)
    write_exr(out / "gbuffer" / "depth.exr", depth_buf.astype(np.float32), half=False)
    write_png_codes(out / "gbuffer" / "mask.png", gmask)
    cam.gbuffer = {"normal": "gbuffer/normal.exr", "uv": "gbuffer/uv.exr", "mask": "gbuffer/mask.png",
                   "position": "gbuffer/position.exr", "depth": "gbuffer/depth.exr"}

    lights, frames, sources, saturated = [], [], {}, {}
    for i, name in enumerate(names):
        if progress:
            progress(i, n)
        path = src / name
        img, sat = read_image(path, "linear", return_max=True)
        if img.shape[:2] != (h, w):  # the header said otherwise: a corrupt file
            raise CaptureError(f"{path}: decodes to {img.shape[1]}x{img.shape[0]}, its header says {w}x{h}")
        lid = f"L{i + 1:03d}"
        inten = intens[i]
        if divide_intensity:
            img = img / inten.astype(np.float32)
        lights.append(Light(lid, "directional", np.ones(3) if divide_intensity else inten.copy(), direction=dirs[i]))
        image_rel, mask_rel = f"images/{lid}.exr", f"masks/{lid}.png"
        write_exr(out / image_rel, img.astype(np.float32), half=False)
        write_png_codes(out / mask_rel, gmask & ~sat)
        frames.append(Frame(cam.id, lid, image_rel, mask_rel))
        sources[lid] = {"file": name, "intensity": inten.tolist()}
        if sat.any():
            saturated[lid] = int(sat.sum())
    if progress:
        progress(n, n)

    seqs = []
    if sequences and rows is not None:
        for r, row in enumerate(rows):
            seqs.append(Sequence(f"row{r:02d}", cam.id, [lights[i].id for i in row], [frames[i].image for i in row],
                                 SEQUENCE_FPS))
    generator = {
        "importer": "diligent",
        "source": str(src.resolve()),
        "object": src.name,
        "images": "linear float32 EXR, code / 65535" + (", divided by the light's RGB intensity" if divide_intensity else ""),
        "divided_by_intensity": divide_intensity,
        "world": "DiLiGenT camera frame: x right, y up, z towards the viewer; 1 unit = 1 pixel",
        "normals": normal_path.name,
        "light_rows": [[lights[i].id for i in row] for row in rows] if rows is not None else None,
        "lights": sources,
        "saturated_pixels": saturated,
        "notes": notes,
    }
    cap = Capture(out, [cam], lights, frames, None, "linear", np.array([0.0, 1.0, 0.0]), seqs, generator)
    save_capture(cap)
    return cap
