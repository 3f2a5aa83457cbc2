"""Temporal stability of light-sweep videos, as numbers: "the video looks jumpy" -> where and how much.

All measures are masked (object pixels only) and documented with their formulas in
``docs/metrics.md``. The main entry point is :func:`temporal_metrics`, whose dict goes into
``eval.json["temporal"][<sequence>]``.

Two jump detectors: the per-sequence one (:func:`flag_jumps` of a sweep's own log-luminance:
its *events*) and, with ground truth, the relative one (:func:`flag_jumps` of
:func:`relative_log_luminance`: where the prediction's change differs from the truth's, so
the truth's own events cancel). :func:`match_events` sorts the prediction's events into those
the truth has and *spurious jumps* (those the relative detector confirms), and the truth's into
those reproduced and *missed events*.

Index convention (one for every per-frame quantity): a quantity about the change between
frames ``k-1`` and ``k`` belongs to frame ``k``, the first frame after the change. A brightness
step that makes frames ``k, k+1, ...`` brighter is flagged at ``k``, and tDE's worst frame is
``k``. Per-frame curves have length T and hold ``None`` at frame 0 when they are differences.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from neutex.check import check_shape
from neutex.color import LUMA_WEIGHTS
from neutex.errors import DataError
from neutex.render.lights import rotate_sources

#: log-luminance dark floor: ``m = log(Ȳ + ε)`` with ``ε = DARK_FLOOR ×`` the sequence's mean
#: luminance. Frames much darker than that (the light behind the object) have their relative
#: changes damped instead of amplified by the log, as they are on a display exposed for the
#: sweep; ε ∝ the mean keeps every measure exactly scale-free.
DARK_FLOOR = 0.1
#: the smallest median ``|Δm|`` a peak ratio divides by (log units, ≈ 0.1 % brightness).
RATIO_FLOOR = 1e-3
#: default robust threshold multiplier k (threshold = k × 1.4826 × MAD of the jump signal).
THRESHOLD_K = 5.0
#: absolute floor of the jump threshold in log-luminance units (≈ 0.5 % brightness).
JUMP_FLOOR = 0.005
#: half width of the window whose MAD sets each frame's threshold (frames): the bar follows the
#: sequence's local noise (Monte-Carlo noise of dark ground-truth frames is larger than of lit ones).
MAD_HALF_WINDOW = 8
#: the global luminance clips each pixel at this quantile of the sequence's object luminance
#: (its display white): one glint pixel at 100x white in a dark frame is one white pixel on
#: screen, not a 4x brightness jump of the whole frame.
WHITE_QUANTILE = 0.99
#: frames (evenly spaced) sampled to estimate the display white.
WHITE_SAMPLE_FRAMES = 32
#: half width of the running median that removes the smooth trend of Δm (frames).
MEDIAN_HALF_WINDOW = 3
#: a patch counts when at least this fraction of its pixels is on the object.
PATCH_MIN_COVERAGE = 0.5
#: quantile over tiles reported as ``patch_peak_p99`` (a pop must cover more than 1 % of the
#: object's tiles to move it; ``curves["patch_peak_max"]`` is the single worst tile).
PATCH_QUANTILE = 0.99
#: frames processed at once (bounds the temporaries: chunk × 3 × H × W floats).
CHUNK_FRAMES = 32
#: dark floor ρ of the relative signal (:func:`relative_log_luminance`): its frame-to-frame
#: changes are damped by ``q / (q + ρ)``, q = the darker frame's brightness relative to its
#: sweep's mean. Much smaller than :data:`DARK_FLOOR`: the ratio of the two renders is measured
#: nearly exactly down to ~1 % of the mean (the light behind the object; a 2 % step reads 0.018
#: there) and damped only in almost black frames.
REL_DARK_FLOOR = 1e-3
#: absolute floor of the relative detector's threshold in log units (≈ 1 % brightness: half of
#: the 2 % step it must find, twice the absolute detector's floor).
REL_JUMP_FLOOR = 0.01
#: an event of the prediction and one of the ground truth match when at most this many frames apart.
EVENT_TOLERANCE = 1


def _as_sequence(x, name: str) -> torch.Tensor:
    x = torch.as_tensor(x)
    check_shape(x, "T 3 H W", name)
    if not x.is_floating_point():
        raise DataError(f"{name}: expected float linear values, got {x.dtype}")
    return x


def _as_mask(mask, h: int, w: int, device) -> torch.Tensor:
    mask = torch.as_tensor(mask, device=device)
    check_shape(mask, "H W", "mask")
    if tuple(mask.shape) != (h, w):
        raise DataError(f"mask: shape {tuple(mask.shape)} does not match frames {h}x{w}")
    mask = mask > 0.5 if mask.is_floating_point() else mask.bool()
    if not bool(mask.any()):
        raise DataError("mask: no object pixel")
    return mask


def _work_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _scan(pred: torch.Tensor, gt: torch.Tensor | None, mask: torch.Tensor, patch: int, lum: bool = True) -> dict:
    """One pass over the frames, in chunks, inside the mask's bounding box (tile-aligned).

    Background pixels are replaced by 0 before anything is summed, so they never count (NaN
    included). Returns ``glob`` ``(T,)`` mean display luminance (each pixel clipped at the
    sequence's :data:`WHITE_QUANTILE` white) and ``tiles`` ``(T, P)`` mean luminance of pred (and
    ``glob_gt``, ``tiles_gt``, ``tde_t``, ``gdiff_t`` when ``gt`` is given, and ``rel``,
    ``rel_gt`` ``(T,)``: the co-clipped means of :func:`relative_log_luminance`), and ``tile_xy``
    ``(P, 2)``: each kept tile's top-left pixel (x, y).
    """
    t = pred.shape[0]
    dt = _work_dtype(pred)
    dev = pred.device
    rows = torch.nonzero(mask.any(1)).flatten()
    cols = torch.nonzero(mask.any(0)).flatten()
    r0, r1 = int(rows[0]) // patch * patch, int(rows[-1]) + 1
    c0, c1 = int(cols[0]) // patch * patch, int(cols[-1]) + 1
    mc = mask[r0:r1, c0:c1]
    ph, pw = -(r1 - r0) % patch, -(c1 - c0) % patch
    nth, ntw = (r1 - r0 + ph) // patch, (c1 - c0 + pw) // patch
    counts = F.pad(mc.to(dt), (0, pw, 0, ph)).view(nth, patch, ntw, patch).sum((1, 3)).flatten()
    valid = counts >= PATCH_MIN_COVERAGE * patch * patch
    cnt = counts[valid]
    ids = torch.nonzero(valid).flatten()
    tile_xy = torch.stack([c0 + (ids % ntw) * patch, r0 + (ids // ntw) * patch], 1)
    n_obj = mc.sum().to(dt)
    luma = torch.tensor(LUMA_WEIGHTS, dtype=dt, device=dev)
    zero = torch.zeros((), dtype=dt, device=dev)

    def crop(x: torch.Tensor, s: int) -> torch.Tensor:
        return torch.where(mc, x[s:s + CHUNK_FRAMES, :, r0:r1, c0:c1].to(dt), zero)

    def display_white(x: torch.Tensor) -> torch.Tensor:
        idx = torch.linspace(0, t - 1, min(t, WHITE_SAMPLE_FRAMES)).round().long().unique()
        y = torch.einsum("tchw,c->thw", x[idx][:, :, r0:r1, c0:c1].to(dt), luma)[:, mc]
        y = torch.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0).flatten()
        k = max(1, min(y.numel(), math.ceil(WHITE_QUANTILE * y.numel())))
        return y.kthvalue(k).values.clamp_min(0)

    def lum_stats(x: torch.Tensor, white: torch.Tensor):
        y = torch.einsum("tchw,c->thw", x, luma)
        tiles = F.pad(y, (0, pw, 0, ph)).view(y.shape[0], nth, patch, ntw, patch).sum((2, 4)).flatten(1)
        # background is 0 (<= white), NaN stays NaN and is reported by the caller
        return torch.minimum(y, white).sum((1, 2)) / n_obj, tiles[:, valid] / cnt, y

    keys = ("glob", "tiles", "glob_gt", "tiles_gt", "rel", "rel_gt", "tde_t", "gdiff_t")
    out: dict[str, list] = {k: [] for k in keys}
    white_p = display_white(pred) if lum else None
    white_g = display_white(gt) if lum and gt is not None else None
    if white_g is not None:  # a black render (white 0) keeps weight 1, not 0/0
        tiny = torch.finfo(dt).tiny
        wp_rel, wg_rel = white_p.clamp_min(tiny), white_g.clamp_min(tiny)
    prev_r = prev_g = None
    for s in range(0, t, CHUNK_FRAMES):
        xp = crop(pred, s)
        if lum:
            g_, t_, yp = lum_stats(xp, white_p)
            out["glob"].append(g_)
            out["tiles"].append(t_)
        if gt is None:
            continue
        xg = crop(gt, s)
        if lum:
            g_, t_, yg = lum_stats(xg, white_g)
            out["glob_gt"].append(g_)
            out["tiles_gt"].append(t_)
            # one clip weight per pixel for both renders: that of its brighter side (relative to
            # each render's white), so P = s·G in a frame gives exactly s in the ratio of the sums
            f = torch.minimum(wp_rel / yp.clamp_min(wp_rel), wg_rel / yg.clamp_min(wg_rel))
            out["rel"].append((f * yp).sum((1, 2)) / n_obj)
            out["rel_gt"].append((f * yg).sum((1, 2)) / n_obj)
        r = xp - xg
        r_all = r if prev_r is None else torch.cat([prev_r, r])
        g_all = xg if prev_g is None else torch.cat([prev_g, xg])
        out["tde_t"].append((r_all[1:] - r_all[:-1]).abs().sum((1, 2, 3)) / (3 * n_obj))
        out["gdiff_t"].append((g_all[1:] - g_all[:-1]).abs().sum((1, 2, 3)) / (3 * n_obj))
        prev_r, prev_g = r[-1:], xg[-1:]
    res = {k: (torch.cat(v) if v else None) for k, v in out.items()}
    res["tile_xy"] = tile_xy
    return res


def luminance_stats(
    frames: torch.Tensor, mask: torch.Tensor, patch: int = 8
) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked mean luminance per frame, globally and per ``patch × patch`` tile.

    ``Y = 0.2126 R + 0.7152 G + 0.0722 B`` (linear). ``Ȳ_t = Σ_{px∈M} min(Y_t, Y_white) / |M|``
    with ``Y_white`` the :data:`WHITE_QUANTILE` quantile of ``Y`` over the object pixels of the
    sequence (the display white: a few extreme glint pixels do not dominate a dark frame's mean).
    Per tile ``Ȳ^p_t`` is the unclipped mean over the tile's object pixels; only tiles at least
    :data:`PATCH_MIN_COVERAGE` on the object are kept. Tiles are non-overlapping, from the
    top-left corner; a partial last row/column of tiles counts its missing pixels as background.

    Args:
        frames: ``(T, 3, H, W)`` linear float (any float dtype; computed in float32).
        mask: ``(H, W)`` bool.
        patch: tile size in pixels.

    Returns:
        ``(T,)`` global mean luminance and ``(T, P)`` per-tile mean luminance.

    Examples:
        >>> f = torch.ones(4, 3, 16, 16)
        >>> g, p = luminance_stats(f, torch.ones(16, 16, dtype=torch.bool))
        >>> g.tolist(), tuple(p.shape)
        ([1.0, 1.0, 1.0, 1.0], (4, 4))
    """
    frames = _as_sequence(frames, "frames")
    t, _, h, w = frames.shape
    mask = _as_mask(mask, h, w, frames.device)
    r = _scan(frames, None, mask, patch)
    return r["glob"], r["tiles"]


def log_luminance(lum: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
    """``m = log(max(Ȳ, 0) + ε)``, ``ε = DARK_FLOOR × mean(max(ref, 0))`` (``ref`` defaults to ``lum``).

    Scaling every frame by ``c > 0`` adds ``log c`` to every ``m``: differences are unchanged.

    Args:
        lum: ``(T,)`` or ``(T, P)`` mean luminance.
        ref: values whose mean sets ε (e.g. the global ``(T,)`` series when ``lum`` is per tile).

    Returns:
        same shape as ``lum``.

    Examples:
        >>> a = log_luminance(torch.tensor([1.0, 2.0]))
        >>> b = log_luminance(torch.tensor([10.0, 20.0]))
        >>> bool(torch.allclose(b - a, torch.full((2,), math.log(10.0))))
        True
    """
    ref = lum if ref is None else ref
    eps = DARK_FLOOR * ref.clamp_min(0).mean() + 1e-30
    return torch.log(lum.clamp_min(0) + eps)


def jump_index(m: torch.Tensor) -> torch.Tensor:
    """Scale-free jump index ``J = Σ_t (Δ²m_t)² / Σ_t (Δm_t)²`` along the last axis.

    ``Δm_t = m_t − m_{t−1}``, ``Δ²m_t = Δm_t − Δm_{t−1}``. J is about ``ω²`` for a smooth
    sinusoid of ω rad/frame, 3 for white-noise flicker, below 4 (frame-to-frame alternation
    approaches 4), and 0 for a constant sequence.

    Args:
        m: ``(..., T)`` log-luminance, T ≥ 3.

    Returns:
        ``(...)`` J ≥ 0.

    Examples:
        >>> t = torch.arange(360.0, dtype=torch.float64)
        >>> round(jump_index(torch.sin(2 * math.pi * t / 360)).item(), 6)  # ≈ ω² = 3.05e-4
        0.000306
        >>> round(jump_index(torch.tensor([0.0, 1.0] * 50)).item(), 2)  # alternation: -> 4
        3.96
    """
    d1 = torch.diff(m, dim=-1)
    d2 = torch.diff(d1, dim=-1)
    num = (d2 * d2).sum(-1)
    den = (d1 * d1).sum(-1)
    return torch.where(den > 0, num / den.clamp_min(1e-300 if m.dtype == torch.float64 else 1e-38), torch.zeros_like(num))


def peak_ratio(m: torch.Tensor) -> torch.Tensor:
    """``max_t |Δm_t| / max(median_t |Δm_t|, RATIO_FLOOR)`` along the last axis.

    About 1.4–1.6 for a smooth sweep, about 4–5 for white-noise flicker over a few hundred
    frames, large when one frame jumps.

    Examples:
        >>> m = torch.tensor([0.0, 0.01, 0.02, 0.03, 0.14, 0.15, 0.16])
        >>> round(peak_ratio(m).item(), 1)
        11.0
    """
    a = torch.diff(m, dim=-1).abs()
    return a.amax(-1) / a.median(-1).values.clamp_min(RATIO_FLOOR)


def _robust_line_pad(d: torch.Tensor, w: int) -> torch.Tensor:
    """Values for ``d_{-1}, ..., d_{-w}`` (nearest first) from a robust line through ``d_1 .. d_{2w}``.

    Slope from the medians of the two halves, intercept from the first half's median; ``d_0``
    itself is left out so that a jump at the first entry is not absorbed into its own trend.
    """
    a = d[..., 1:1 + w].median(-1).values  # centred at (w + 1) / 2
    b = d[..., 1 + w:1 + 2 * w].median(-1).values  # centred at (3w + 1) / 2
    slope = (b - a) / w
    pos = -torch.arange(1, w + 1, dtype=d.dtype, device=d.device)  # -1, ..., -w
    return a[..., None] + slope[..., None] * (pos - (w + 1) / 2)


def jump_signal(m: torch.Tensor, half_window: int = MEDIAN_HALF_WINDOW, periodic: bool = False) -> torch.Tensor:
    """Δm with its smooth trend removed: ``e_t = Δm_t − median{Δm_s : 0 < |s − t| ≤ w}``.

    The median of the 2w neighbours (the frame itself excluded; the mean of the two middle
    values) follows a smooth light sweep — exactly where Δm is locally linear — but not a
    one-frame jump, so a step between frames ``k−1`` and ``k`` gives one spike ``e_k`` of the
    step's height and ≈ 0 elsewhere. Past the ends, Δm is continued by a robust line fitted
    to the 2w values next to the end (the end value itself left out) or, for a ``periodic``
    sequence (a light sweep that closes on itself: frame T would be frame 0), by the
    differences across the wrap, which removes the ends' extrapolation error. Sequences
    shorter than ``2w + 2`` frames are detrended by their plain median.

    Args:
        m: ``(..., T)`` log-luminance.
        half_window: w, neighbours on each side.
        periodic: the sequence is one loop (``m_T = m_0``).

    Returns:
        ``(..., T − 1)``: entry ``i`` belongs to frame ``i + 1``.

    Examples:
        >>> m = torch.arange(12.0) * 0.01
        >>> m[7:] += 0.02
        >>> e = jump_signal(m)
        >>> int(e.abs().argmax()) + 1, round(e[6].item(), 3), round(e.abs().sort().values[-2].item(), 3)
        (7, 0.02, 0.0)
    """
    d = torch.diff(m, dim=-1)
    n = d.shape[-1]
    w = half_window
    if n < 2 * w + 1:
        return d - d.median(-1, keepdim=True).values
    if periodic:
        c = torch.cat([d, m[..., :1] - m[..., -1:]], -1)  # every difference of the loop, wrap last
        left, right = c[..., -w:], torch.cat([c[..., n:], c[..., :w - 1]], -1)
    else:
        left = _robust_line_pad(d, w).flip(-1)  # d_{-w} .. d_{-1}
        right = _robust_line_pad(d.flip(-1), w)  # d_{n} .. d_{n+w-1}
    padded = torch.cat([left, d, right], -1)
    win = padded.unfold(-1, 2 * w + 1, 1)  # (..., n, 2w+1)
    neigh = torch.cat([win[..., :w], win[..., w + 1:]], -1).sort(-1).values
    med = 0.5 * (neigh[..., w - 1] + neigh[..., w])
    return d - med


def patch_jumps(tiles: torch.Tensor, glob: torch.Tensor, half_window: int = MEDIAN_HALF_WINDOW,
                periodic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Largest one-frame jump of each tile, in units of the sequence's mean object luminance.

    ``q^p_t = Ȳ^p_t / mean_t Ȳ_t`` (tile luminance relative to the whole sequence's mean object
    luminance, so the measure is scale-free), ``e^p`` = :func:`jump_signal` applied to ``q^p``
    (Δ with the smooth trend removed; linear, not log, so that noise in dark tiles is not
    amplified), and the tile's peak is ``max_t |e^p_t|``.

    Args:
        tiles: ``(T, P)`` mean luminance per tile (:func:`luminance_stats`).
        glob: ``(T,)`` mean object luminance per frame.

    Returns:
        ``(peak, frame)``: ``(P,)`` each tile's peak and ``(P,)`` the frame where it happens
        (first frame after the jump).

    Examples:
        >>> glob = torch.ones(20)
        >>> tiles = torch.ones(20, 3); tiles[9:, 1] = 1.3
        >>> peak, frame = patch_jumps(tiles, glob)
        >>> [round(v, 3) for v in peak.tolist()], int(frame[1])
        ([0.0, 0.3, 0.0], 9)
    """
    q = tiles.T / glob.clamp_min(0).mean().clamp_min(1e-30)
    e = jump_signal(q, half_window, periodic).abs()
    peak, idx = e.max(-1)
    return peak, idx + 1


def local_threshold(e: torch.Tensor, threshold_k: float = THRESHOLD_K, floor: float = JUMP_FLOOR,
                    half_window: int = MAD_HALF_WINDOW) -> torch.Tensor:
    """Each frame's bar: ``thr_t = max(k · 1.4826 · MAD(e over 2w+1 frames about t), floor)``.

    A Hampel filter's scale: the MAD of the ``2w + 1`` values centred on ``t`` (the window is
    shifted inwards at the ends; sequences shorter than ``2w + 1`` use one global MAD). The
    bar follows the local noise, so the Monte-Carlo noise of a path-traced sweep's dark frames
    does not raise it for the lit ones, nor do lit frames lower it for the dark ones.

    Args:
        e: ``(N,)`` jump signal (:func:`jump_signal`).

    Returns:
        ``(N,)`` thresholds.

    Examples:
        >>> e = torch.cat([0.001 * torch.randn(40, generator=torch.Generator().manual_seed(0)),
        ...                0.02 * torch.randn(40, generator=torch.Generator().manual_seed(1))])
        >>> thr = local_threshold(e)
        >>> round(thr[10].item(), 3), thr[70].item() > 0.05
        (0.005, True)
    """
    n = e.shape[-1]
    w = half_window
    if n < 2 * w + 1:
        win = e.unsqueeze(0)
        start = torch.zeros(n, dtype=torch.long, device=e.device)
    else:
        win = e.unfold(-1, 2 * w + 1, 1)  # (n - 2w, 2w+1)
        start = (torch.arange(n, device=e.device) - w).clamp(0, n - 2 * w - 1)
    med = win.median(-1, keepdim=True).values
    mad = (win - med).abs().median(-1).values
    return (threshold_k * 1.4826 * mad[start]).clamp_min(floor)


def flag_jumps(
    m: torch.Tensor,
    fps: float,
    threshold_k: float = THRESHOLD_K,
    floor: float = JUMP_FLOOR,
    half_window: int = MEDIAN_HALF_WINDOW,
    mad_half_window: int = MAD_HALF_WINDOW,
    periodic: bool = False,
) -> tuple[list[dict], torch.Tensor, torch.Tensor]:
    """Frames where the log-luminance jumps: ``|e_k| > thr_k`` (:func:`local_threshold`).

    ``e`` is :func:`jump_signal`; the threshold is ``k`` robust standard deviations of ``e`` in
    a window about the frame (``1.4826·MAD = σ`` for Gaussian noise), so the sequence's normal
    flicker or noise does not flag every frame; ``floor`` keeps a perfectly smooth sequence
    (MAD ≈ 0) from being flagged.

    Args:
        m: ``(T,)`` log-luminance (see :func:`log_luminance`).
        fps: frames per second of the video (for ``time_s``).
        threshold_k: k, in robust standard deviations.
        floor: absolute floor of the threshold in log units (0.005 ≈ 0.5 % brightness).
        half_window: running-median half width of :func:`jump_signal`.
        mad_half_window: half width of the window of :func:`local_threshold`.
        periodic: the sequence is one loop (see :func:`jump_signal`).

    Returns:
        ``(flagged, threshold, e)``: ``flagged`` = ``[{"frame": k, "time_s": k / fps,
        "value": e_k, "threshold": thr_k}, ...]`` with k the first frame after the jump, the
        ``(T − 1,)`` thresholds and the ``(T − 1,)`` jump signal (entry i ↔ frame i + 1).

    Examples:
        >>> m = torch.linspace(0, 0.3, 30)
        >>> m[12:] += math.log(1.02)
        >>> flags, thr, _ = flag_jumps(m, fps=24)
        >>> [(f["frame"], round(f["time_s"], 3)) for f in flags], round(thr.max().item(), 4)
        ([(12, 0.5)], 0.005)
    """
    check_shape(m, "T", "m")
    e = jump_signal(m, half_window, periodic)
    if e.numel() == 0:
        return [], e.new_full((0,), float(floor)), e
    thr = local_threshold(e, threshold_k, floor, mad_half_window)
    idx = torch.nonzero(e.abs() > thr).flatten().tolist()
    flagged = [{"frame": i + 1, "time_s": (i + 1) / fps, "value": float(e[i]), "threshold": float(thr[i])}
               for i in idx]
    return flagged, thr, e


def relative_log_luminance(lum_pred: torch.Tensor, lum_gt: torch.Tensor,
                           dark_floor: float = REL_DARK_FLOOR) -> torch.Tensor:
    """The prediction's log-brightness relative to the ground truth's, per frame, up to a constant.

    ``r_0 = 0``, ``r_t = r_{t−1} + w_t · (Δℓ^P_t − Δℓ^G_t)`` with ``ℓ^X_t = log Ȳ^X_t`` and
    ``Δℓ_t = ℓ_t − ℓ_{t−1}``: the difference of the two sweeps' frame-to-frame log changes, so
    what they have in common cancels — the moving light, the ground truth's own events that the
    prediction reproduces, and any gain, constant or not (``P_t = s_t G_t`` gives
    ``Δr_t = w_t log(s_t / s_{t−1})``: exactly 0 wherever ``s`` does not change, and the step's
    height where it does). The darkness weight ``w_t = q_t / (q_t + ρ)``, ``ρ = dark_floor``,
    ``q_t = min(Ȳ^P_{t−1}, Ȳ^P_t) / mean Ȳ^P`` or the same of ``G``, whichever is darker, damps
    changes between frames darker than ~ρ of their sweep's mean brightness (where two almost
    black renders have no meaningful ratio): w = 0.91 at 1 % of the mean, 0.5 at ρ.

    Args:
        lum_pred, lum_gt: ``(T,)`` mean (display) luminance of prediction and ground truth.
        dark_floor: ρ, relative to each sequence's mean.

    Returns:
        ``(T,)`` ``r``.

    Examples:
        >>> g = torch.tensor([1.0, 0.5, 0.01, 0.5, 1.0])
        >>> relative_log_luminance(3 * g, g).abs().max().item() < 1e-6  # a constant gain cancels
        True
        >>> p = g.clone(); p[2:] *= 1.02  # a 2 % step at frame 2, at 1.7 % of the mean brightness
        >>> p[4:] *= 1.05  # and 5 % at frame 4
        >>> [round(v, 4) for v in torch.diff(relative_log_luminance(p, g)).tolist()]
        [0.0, 0.0187, 0.0, 0.0487]
    """
    check_shape(lum_pred, "T", "lum_pred")
    check_shape(lum_gt, "T", "lum_gt")

    def darkness_and_log(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = y.clamp_min(0)
        mean = y.mean()
        q = y / mean.clamp_min(1e-30)
        return torch.minimum(q[1:], q[:-1]), torch.log(y + 1e-12 * mean + 1e-30)

    qp, lp = darkness_and_log(lum_pred)
    qg, lg = darkness_and_log(lum_gt)
    q = torch.minimum(qp, qg)
    w = q / (q + dark_floor)
    dr = w * (torch.diff(lp) - torch.diff(lg))
    return torch.cat([dr.new_zeros(1), torch.cumsum(dr, 0)])


def match_events(frames_pred, frames_gt, tolerance: int = EVENT_TOLERANCE) -> tuple[list[int], list[int]]:
    """Which events of the prediction the ground truth does not have, and the reverse.

    An event is a frame flagged by the per-sequence detector (:func:`flag_jumps`). A predicted
    event at ``k`` is *spurious* when no ground-truth event lies in ``[k − tolerance, k + tolerance]``;
    a ground-truth event at ``j`` is *missed* when no predicted event lies in
    ``[j − tolerance, j + tolerance]``.

    Args:
        frames_pred, frames_gt: frame indices (sequences of int).
        tolerance: largest frame distance of a match.

    Returns:
        ``(spurious, missed)``: the unmatched predicted frames and the unmatched ground-truth
        frames, each in its input order.

    Examples:
        >>> match_events([12, 40, 41, 90], [41, 60, 91])
        ([12], [60])
    """
    p = torch.as_tensor(list(frames_pred), dtype=torch.long).view(-1, 1)
    g = torch.as_tensor(list(frames_gt), dtype=torch.long).view(1, -1)
    near = (p - g).abs() <= tolerance  # (n_pred, n_gt)
    spurious = p[:, 0][~near.any(1)].tolist()
    missed = g[0][~near.any(0)].tolist()
    return spurious, missed


def frame_subsample(num_frames: int, max_frames: int | None) -> np.ndarray:
    """Indices of at most ``max_frames`` of a sequence's ``num_frames`` frames at one stride.

    ``stride = ceil(num_frames / max_frames)``, frames ``0, stride, 2·stride, …``. One stride
    keeps time uniform: picking exactly ``max_frames`` (``linspace``) alternates strides (48 of
    120 frames: 2, 3, 2, 3, …), which is itself a flicker (the egg's ground-truth sweep: jump
    index 0.16 instead of 0.03).

    Examples:
        >>> frame_subsample(10, None).tolist(), frame_subsample(10, 4).tolist(), frame_subsample(120, 48)[:4].tolist()
        ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [0, 3, 6, 9], [0, 3, 6, 9])
    """
    if max_frames is None or max_frames >= num_frames:
        return np.arange(num_frames)
    if max_frames < 1:
        raise DataError(f"max_frames: must be >= 1, got {max_frames}")
    return np.arange(0, num_frames, -(-num_frames // max_frames))


def closes_loop(sources, rel_tol: float = 0.25) -> bool:
    """Whether lights ``(T, 4)`` (homogeneous sources) go once round a loop at an even step,
    so that frame T would be frame 0: the step from the last light back to the first is within
    ``rel_tol`` of the median step, and the steps add up to one turn (angles about the centroid
    of the light positions, or of the unit directions for directional lights).

    Examples:
        >>> a = 2 * math.pi * np.arange(12) / 12
        >>> ring = np.stack([np.cos(a), np.sin(a), np.full(12, 0.5), np.ones(12)], 1)
        >>> closes_loop(ring), closes_loop(ring[:9]), closes_loop(ring[::5])
        (True, False, False)
    """
    src = np.asarray(sources, np.float64).reshape(-1, 4)
    if len(src) < 3:
        return False
    p = src[:, :3].copy()
    directional = src[:, 3] <= 0.5
    p[directional] /= np.maximum(np.linalg.norm(p[directional], axis=1, keepdims=True), 1e-12)
    p -= p.mean(0)  # the loop's centre: angles are azimuths about it
    p /= np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12)
    nxt = np.roll(p, -1, axis=0)
    steps = np.arccos(np.clip((p * nxt).sum(1), -1.0, 1.0))  # last entry: the wrap
    med = float(np.median(steps[:-1]))
    return bool(med > 0 and abs(steps[-1] - med) <= rel_tol * med
                and abs(steps.sum() - 2 * math.pi) <= rel_tol * med * len(steps) ** 0.5)


def temporal_difference_error(
    pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor
) -> tuple[float, float | None, torch.Tensor]:
    """tDE: how much the prediction's frame-to-frame change differs from the ground truth's.

    ``tDE_t = masked_mean |(P_t − P_{t−1}) − (G_t − G_{t−1})|`` over object pixels and channels,
    for frame t ≥ 1 (the later frame); computed with the background zeroed as
    sum / (3 × object pixels), the same value as ``metrics.masked_mean``.
    ``tDE = mean_t tDE_t`` (linear radiance units),
    ``tDE_rel = tDE / mean_t masked_mean |G_t − G_{t−1}|`` (dimensionless; ``None`` when the
    ground truth never changes).

    Args:
        pred, gt: ``(T, 3, H, W)`` linear float.
        mask: ``(H, W)`` bool.

    Returns:
        ``(tde, tde_rel, tde_t)`` with ``tde_t`` ``(T − 1,)``: entry i belongs to frame i + 1.

    Examples:
        >>> g = torch.linspace(0, 1, 5).view(5, 1, 1, 1).expand(5, 3, 4, 4)
        >>> p = g.clone(); p[3:] += 0.1
        >>> tde, rel, per = temporal_difference_error(p, g, torch.ones(4, 4, dtype=torch.bool))
        >>> int(per.argmax()) + 1, round(tde, 4), round(rel, 4)
        (3, 0.025, 0.1)
    """
    pred = _as_sequence(pred, "pred")
    gt = _as_sequence(gt, "gt")
    if gt.shape != pred.shape:
        raise DataError(f"gt: shape {tuple(gt.shape)} does not match pred {tuple(pred.shape)}")
    t, _, h, w = pred.shape
    if t < 2:
        raise DataError(f"pred: a sequence needs at least 2 frames, got {t}")
    mask = _as_mask(mask, h, w, pred.device)
    r = _scan(pred, gt, mask, 1, lum=False)
    return _tde_summary(r["tde_t"], r["gdiff_t"])


def _tde_summary(tde_t: torch.Tensor, gdiff_t: torch.Tensor) -> tuple[float, float | None, torch.Tensor]:
    g_mean = float(gdiff_t.mean())
    tde = float(tde_t.mean())
    return tde, (tde / g_mean if g_mean > 0 else None), tde_t


def _curve(x: torch.Tensor | None, lead_none: bool) -> list | None:
    if x is None:
        return None
    vals = [float(v) for v in x.tolist()]
    return [None, *vals] if lead_none else vals


def temporal_metrics(
    pred: torch.Tensor,
    gt: torch.Tensor | None,
    mask: torch.Tensor,
    fps: float,
    threshold_k: float = THRESHOLD_K,
    patch: int = 8,
    floor: float = JUMP_FLOOR,
    periodic: bool = False,
    rel_floor: float = REL_JUMP_FLOOR,
) -> dict:
    """Temporal stability of one video (a light sweep at a fixed view), for ``eval.json``.

    Args:
        pred: ``(T, 3, H, W)`` linear predicted frames (torch or numpy, any float dtype).
        gt: ``(T, 3, H, W)`` linear ground-truth frames, or ``None``.
        mask: ``(H, W)`` bool, the object (the view is fixed).
        fps: frames per second (flag times are ``frame / fps``).
        threshold_k: robust threshold multiplier of :func:`flag_jumps`.
        patch: tile size of the local measure.
        floor: absolute threshold floor of :func:`flag_jumps` (log units).
        periodic: the video is one loop of the light (frame T would be frame 0; see
            :func:`closes_loop`): the jump signal continues across the wrap instead of
            extrapolating at the ends.
        rel_floor: absolute threshold floor of the relative detector (log units).

    Returns:
        ``{"tde", "tde_rel", "jump_index", "jump_index_gt", "peak_ratio", "peak_ratio_gt",
        "patch_peak_p99", "worst_frame", "flagged_frames", "flagged_frames_relative",
        "flagged_frames_gt", "events_pred", "events_gt", "spurious_jumps", "missed_events",
        "n_spurious", "n_missed", "curves"}``; keys that need ground truth are ``None`` without it:

        - ``tde``, ``tde_rel``, ``worst_frame``: :func:`temporal_difference_error`;
        - ``jump_index(_gt)``: :func:`jump_index` of the log-luminance ``m_t``
          (:func:`log_luminance` of the masked mean luminance);
        - ``peak_ratio(_gt)``: :func:`peak_ratio` of ``m_t``;
        - ``patch_peak_p99``: the :data:`PATCH_QUANTILE` quantile over tiles of each tile's
          largest one-frame jump (:func:`patch_jumps`; fraction of the mean luminance);
        - ``events_pred``, ``events_gt`` (= ``flagged_frames_gt``): each sweep's own jumps,
          :func:`flag_jumps` of its ``m_t`` (the per-sequence detector);
        - ``flagged_frames_relative``: jumps of the prediction *relative to* the ground truth,
          :func:`flag_jumps` of :func:`relative_log_luminance` with floor ``rel_floor``: the
          ground truth's own events cancel, so every frame flagged here is a frame where the
          prediction's change differs from the truth's;
        - ``flagged_frames``: the jumps to look at: ``flagged_frames_relative`` with ground
          truth, ``events_pred`` without;
        - ``spurious_jumps``: the prediction's events with no ground-truth event within
          ±:data:`EVENT_TOLERANCE` frames (:func:`match_events`) that the relative detector
          confirms (it flags a frame within ±:data:`EVENT_TOLERANCE`): the prediction jumps and
          the truth does not change the same way. ``missed_events``: the ground truth's events
          with no predicted event within ±:data:`EVENT_TOLERANCE` frames. ``n_spurious``,
          ``n_missed`` count them.

        Every list of frames holds ``{"frame", "time_s", "value", "threshold"}`` dicts
        (:func:`flag_jumps`).

        ``curves`` holds per-frame lists of length T (``None`` at frame 0 for differences):
        ``m_t, dm_t, jump_t, threshold_t, tde_t`` (``jump_t``, ``threshold_t``: the per-sequence
        detector on the prediction), the GT's ``m_t_gt, dm_t_gt, jump_t_gt, threshold_t_gt``, the
        relative detector's ``m_t_rel`` (``r_t``), ``jump_t_rel``, ``threshold_t_rel``; and
        scalars ``fps, patch_peak_p99_gt, patch_peak_max, patch_peak_max_gt`` and
        ``patch_peak_at`` = ``{"frame", "time_s", "x", "y"}`` (the worst tile's top-left pixel
        and the frame of its jump).

    Examples:
        >>> t = torch.arange(96.0)
        >>> gt = (1.5 + torch.sin(t / 16)).view(96, 1, 1, 1).expand(96, 3, 16, 16).clone()
        >>> gt[60:] *= 1.2  # an event of the truth (a shadow edge)
        >>> pred = gt.clone(); pred[20:] *= 1.02  # a 2 % jump of the prediction alone
        >>> r = temporal_metrics(pred, gt, torch.ones(16, 16, dtype=torch.bool), fps=24)
        >>> r["worst_frame"], [f["frame"] for f in r["flagged_frames"]]
        (20, [20])
        >>> [[f["frame"] for f in r[k]] for k in ("events_pred", "events_gt", "spurious_jumps", "missed_events")]
        [[20, 60], [60], [20], []]
        >>> smooth = gt.clone(); smooth[60:] /= 1.2  # a prediction without the truth's event
        >>> r = temporal_metrics(smooth, gt, torch.ones(16, 16, dtype=torch.bool), fps=24)
        >>> [f["frame"] for f in r["flagged_frames"]], [f["frame"] for f in r["missed_events"]], r["n_spurious"]
        ([60], [60], 0)
    """
    pred = _as_sequence(pred, "pred")
    t, _, h, w = pred.shape
    if t < 3:
        raise DataError(f"pred: temporal metrics need at least 3 frames, got {t}")
    if fps <= 0:
        raise DataError(f"fps: must be positive, got {fps}")
    mask = _as_mask(mask, h, w, pred.device)
    if gt is not None:
        gt = _as_sequence(gt, "gt")
        if gt.shape != pred.shape:
            raise DataError(f"gt: shape {tuple(gt.shape)} does not match pred {tuple(pred.shape)}")

    scan = _scan(pred, gt, mask, patch)

    def per_sequence(glob: torch.Tensor, tiles: torch.Tensor, name: str) -> dict:
        if not bool(torch.isfinite(glob).all()):
            raise DataError(f"{name}: non-finite values on object pixels")
        m = log_luminance(glob)
        flagged, thr, e = flag_jumps(m, fps, threshold_k, floor, periodic=periodic)
        res = {"m": m, "e": e, "thr": thr, "flagged": flagged, "p99": None, "pmax": None, "pat": None,
               "J": float(jump_index(m)), "peak": float(peak_ratio(m))}
        if tiles.shape[1] > 0:
            peak, frame = patch_jumps(tiles, glob, periodic=periodic)
            res["p99"] = float(torch.quantile(peak.double(), PATCH_QUANTILE))
            i = int(peak.argmax())
            x0, y0 = (int(v) for v in scan["tile_xy"][i])
            k = int(frame[i])
            res["pmax"] = float(peak[i])
            res["pat"] = {"frame": k, "time_s": k / fps, "x": x0, "y": y0}
        return res

    sp = per_sequence(scan["glob"], scan["tiles"], "pred")
    sg = per_sequence(scan["glob_gt"], scan["tiles_gt"], "gt") if gt is not None else None
    tde = tde_rel = worst = None
    tde_t = None
    rel = spurious = missed = None
    if gt is not None:
        tde, tde_rel, tde_t = _tde_summary(scan["tde_t"], scan["gdiff_t"])
        worst = int(tde_t.argmax()) + 1
        r = relative_log_luminance(scan["rel"], scan["rel_gt"])
        flagged, thr, e = flag_jumps(r, fps, threshold_k, rel_floor, periodic=periodic)
        rel = {"r": r, "e": e, "thr": thr, "flagged": flagged}
        s_frames, m_frames = (set(v) for v in match_events([f["frame"] for f in sp["flagged"]],
                                                             [f["frame"] for f in sg["flagged"]]))
        # a prediction event counts as spurious only where the relative detector confirms that
        # the truth does not change the same way: the per-sequence detector's bar is set by each
        # sweep's own noise, so a sharp, clean prediction shows real events (a shadow edge) that
        # the noisier ground truth has too but does not clear its own bar with
        confirmed = {f["frame"] + d for f in flagged for d in range(-EVENT_TOLERANCE, EVENT_TOLERANCE + 1)}
        spurious = [f for f in sp["flagged"] if f["frame"] in s_frames and f["frame"] in confirmed]
        missed = [f for f in sg["flagged"] if f["frame"] in m_frames]
    dm = torch.diff(sp["m"])
    curves = {
        "fps": float(fps),
        "m_t": _curve(sp["m"], False),
        "dm_t": _curve(dm, True),
        "jump_t": _curve(sp["e"], True),
        "threshold_t": _curve(sp["thr"], True),
        "tde_t": _curve(tde_t, True),
        "m_t_gt": _curve(sg["m"], False) if sg else None,
        "dm_t_gt": _curve(torch.diff(sg["m"]), True) if sg else None,
        "jump_t_gt": _curve(sg["e"], True) if sg else None,
        "threshold_t_gt": _curve(sg["thr"], True) if sg else None,
        "m_t_rel": _curve(rel["r"], False) if rel else None,
        "jump_t_rel": _curve(rel["e"], True) if rel else None,
        "threshold_t_rel": _curve(rel["thr"], True) if rel else None,
        "patch_peak_p99_gt": sg["p99"] if sg else None,
        "patch_peak_max": sp["pmax"],
        "patch_peak_at": sp["pat"],
        "patch_peak_max_gt": sg["pmax"] if sg else None,
    }
    return {
        "tde": tde,
        "tde_rel": tde_rel,
        "jump_index": sp["J"],
        "jump_index_gt": sg["J"] if sg else None,
        "peak_ratio": sp["peak"],
        "peak_ratio_gt": sg["peak"] if sg else None,
        "patch_peak_p99": sp["p99"],
        "worst_frame": worst,
        "flagged_frames": rel["flagged"] if rel else sp["flagged"],
        "flagged_frames_relative": rel["flagged"] if rel else None,
        "flagged_frames_gt": sg["flagged"] if sg else None,
        "events_pred": sp["flagged"],
        "events_gt": sg["flagged"] if sg else None,
        "spurious_jumps": spurious,
        "missed_events": missed,
        "n_spurious": len(spurious) if rel else None,
        "n_missed": len(missed) if rel else None,
        "curves": curves,
    }


def light_curvature(
    render_fn: Callable[[torch.Tensor], torch.Tensor],
    light_sources: torch.Tensor,
    up: torch.Tensor,
    delta_rad: float,
    mask: torch.Tensor | None = None,
    batch_size: int = 8,
) -> dict:
    """Light-space curvature of a renderer: needs neither ground truth nor a video.

    ``κ(l) = ‖f(l₊) − 2 f(l) + f(l₋)‖₁ / (‖f(l₊) − f(l₋)‖₁ + ε)``, ``l±`` = ``l`` rotated by ±δ
    about ``up``, L1 norms over (object) pixels and channels, ``ε = 1e-6 ‖f(l)‖₁ + 1e-12``.
    Smooth in the light: ``κ ≈ (δ/2)·|f''|/|f'|`` = O(δ) (halving δ halves κ). A jump between
    ``l`` and ``l₊``: κ ≈ 1 whatever δ. An isolated spike at ``l``: κ ≫ 1.

    Args:
        render_fn: maps ``(n, 4)`` homogeneous sources to ``(n, 3, H, W)`` images (background
            already masked out, or pass ``mask``). Called with up to ``3 × batch_size`` lights.
        light_sources: ``(N, 4)`` lights to probe.
        up: ``(3,)`` world up axis.
        delta_rad: δ in radians.
        mask: optional ``(H, W)`` bool restricting the norms.
        batch_size: lights per render call (each call renders l₋, l, l₊ for them).

    Returns:
        ``{"mean": float, "p99": float, "per_light": [float] * N}``.

    Examples:
        >>> def render(src):  # brightness = 1 + x-coordinate of the light direction
        ...     return (1 + src[:, 0]).view(-1, 1, 1, 1).expand(-1, 3, 4, 4)
        >>> L = torch.tensor([[0.0, 1.0, 0.0, 0.0]])
        >>> r = light_curvature(render, L, torch.tensor([0.0, 0.0, 1.0]), 0.1)
        >>> round(r["mean"], 4)  # f = 1 - sin(θ) near θ = 0: linear, κ ≈ 0
        0.0
    """
    light_sources = torch.as_tensor(light_sources)
    check_shape(light_sources, "N 4", "light_sources")
    up = torch.as_tensor(up, dtype=light_sources.dtype)

    angle = torch.full((light_sources.shape[0],), float(delta_rad), dtype=light_sources.dtype)
    plus = rotate_sources(light_sources, up, angle)
    minus = rotate_sources(light_sources, up, -angle)
    out = []
    with torch.no_grad():
        for s in range(0, light_sources.shape[0], batch_size):
            n = min(batch_size, light_sources.shape[0] - s)
            imgs = render_fn(torch.cat([minus[s:s + n], light_sources[s:s + n], plus[s:s + n]]))
            check_shape(imgs, "N 3 H W", "render_fn output")
            if mask is not None:
                imgs = torch.where(torch.as_tensor(mask, device=imgs.device).bool(), imgs, torch.zeros((), dtype=imgs.dtype, device=imgs.device))
            fm, f0, fp = imgs[:n], imgs[n:2 * n], imgs[2 * n:]
            num = (fp - 2 * f0 + fm).abs().flatten(1).sum(-1)
            den = (fp - fm).abs().flatten(1).sum(-1) + 1e-6 * f0.abs().flatten(1).sum(-1) + 1e-12
            out.append((num / den).double())
    kappa = torch.cat(out)
    return {
        "mean": float(kappa.mean()),
        "p99": float(torch.quantile(kappa, 0.99)),
        "per_light": [float(v) for v in kappa.tolist()],
    }
