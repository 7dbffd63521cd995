"""An automatic judge: does a generated image show the scene its prompt asked for?

`judge(image)` reads one image of the `shapes.py` world and names its background colour, the
shape's colour and the shape, each from the vocabulary, or None where the image does not show it
(a blank image, noise, several blobs, a shape of no known kind, a colour far from every
vocabulary colour). It is meant for the output of a small generator, so it tolerates blur, noise,
soft edges, JPEG softening and a colour cast. It is deterministic and pure numpy + Pillow (no
scipy): ~2-4 ms of CPU per 128 px image, ~2 ms at 64 px.

Method
  1. Work at <= 128 px (larger images are box-downsampled).
  2. Background = per-channel median of the 2-px image border; undecidable (everything None)
     when fewer than half of the border pixels lie near that median (noise, no flat background).
  3. Candidates = pixels more than `FG_MIN` (RGB distance) from the background. Their largest
     8-connected component must be big enough (`MIN_AREA_FRACTION`) and hold most of the
     candidates (`MIN_BLOB_SHARE`: one coherent shape, not speckle or several objects); its most
     distant pixels give a first estimate of the shape colour.
  4. Coverage = each pixel's position on the background -> shape-colour line, clipped to 0..1
     and lightly smoothed: this unmixes antialiasing, blur and noise. The blob is the largest
     component of coverage > 0.5; the shape colour is the median of its core (coverage > 0.8).
  5. Colours are named by the nearest vocabulary colour (RGB distance), None beyond `COLOR_REJECT`.
  6. Shape, from rotation-invariant geometry of the coverage map:
       ring      the blob encloses a hole (4-connected background not reaching the outside) of at
                 least `RING_HOLE` of its filled area;
       corners   the radial profile r(theta): the coverage integrated along 72 rays from the
                 centroid (sub-pixel, insensitive to blur). Its peaks with a prominence of at
                 least `CORNER_PROMINENCE` x the mean radius are the corners: none -> circle,
                 3 -> triangle, 4 -> square, 5 -> star; 1-2 weak peaks (an oval) -> circle;
                 anything else None.
                 Counting corners does not need a regular shape: a lopsided triangle still has 3;
       sanity    the fill ratio (area over the circle through the farthest point of the profile)
                 and the solidity (area over convex hull area: only a star is concave) must be
                 plausible for the shape named (`FILL_RANGE`, `SOLIDITY_RANGE`), else None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from sanacloud.model.tiny.shapes import ALL_COLORS, COLORS, Scene

WORK_SIZE = 128  # images larger than this are box-downsampled to it first
BORDER_TOL = 40.0  # RGB distance: a border pixel this close to the border median is background
MIN_BORDER_UNIFORMITY = 0.5
COLOR_REJECT = 80.0  # RGB distance beyond which a colour is named None (mid grey is ~94 from all)
FG_MIN = 40.0  # RGB distance from the background for a pixel to be a foreground candidate
MIN_CONTRAST = 48.0  # the shape colour must be at least this far from the background
MIN_AREA_FRACTION = 0.005  # of the image; the smallest rendered shape covers ~2.5%
MIN_BLOB_SHARE = 0.6  # the largest candidate component must hold this share of all candidates
# Plausible solidity (area / convex hull area; rings with their hole filled). Measured: stars
# 0.58-0.86, every other shape > 0.84 (a plus sign ~0.57, a convex pentagon ~0.97).
SOLIDITY_RANGE: dict[str, tuple[float, float]] = {
    "circle": (0.75, 1.01),
    "ring": (0.75, 1.01),
    "square": (0.75, 1.01),
    "triangle": (0.75, 1.01),
    "star": (0.45, 0.92),
}
RING_HOLE = 0.06  # rendered rings: ~0.3
PROFILE_RAYS = 72
# Corner prominence / mean radius. Measured (clean and blurred + noisy + JPEG at 128 px): circles
# and rings <= 0.07, square corners >= 0.18, triangle >= 0.45, star >= 0.25.
CORNER_PROMINENCE = 0.12
MAX_OVAL_PROMINENCE = 0.3  # 1-2 peaks below this: an oval (aspect up to ~1.35), named circle
# Plausible fill ratio (profile area / circle through its farthest point), rings with their hole
# filled. Clean renders: circle/ring ~0.99, square 0.66-0.74, triangle 0.44-0.53, star 0.46-0.6;
# blur raises them (degraded 128 px: square <= 0.78, triangle <= 0.6, star <= 0.71).
FILL_RANGE: dict[str, tuple[float, float]] = {
    "circle": (0.72, 1.05),
    "ring": (0.72, 1.05),
    "square": (0.5, 0.9),
    "triangle": (0.2, 0.8),  # a right isosceles triangle ~0.33, a tall thin one less
    "star": (0.3, 0.85),
}
_BY_CORNERS = {0: "circle", 3: "triangle", 4: "square", 5: "star"}

_PALETTE = np.array([COLORS[name] for name in ALL_COLORS], dtype=np.float32)

FloatArray = NDArray[np.float32]
BoolArray = NDArray[np.bool_]
ImageLike = Image.Image | NDArray[np.uint8]


@dataclass(frozen=True)
class Verdict:
    """What the judge sees. Names are vocabulary words or None (undecidable); the numbers say why."""

    background: str | None
    color: str | None
    shape: str | None
    background_rgb: tuple[float, float, float] | None = None
    color_rgb: tuple[float, float, float] | None = None
    border_uniformity: float = 0.0  # share of border pixels close to the background colour
    contrast: float = 0.0  # RGB distance shape colour <-> background
    area_fraction: float = 0.0  # blob area / image area
    blob_share: float = 0.0  # largest candidate component / all candidate pixels
    fill_ratio: float = 0.0  # profile area / (pi r_max^2), around the centroid
    solidity: float = 0.0  # filled area / convex hull area
    hole_fraction: float = 0.0  # enclosed hole area / filled area
    corners: int = 0  # peaks of the radial profile with prominence >= CORNER_PROMINENCE
    prominences: tuple[float, ...] = ()  # the profile's largest peak prominences / mean radius
    reason: str = ""  # why a name is None, when one is


@dataclass
class _Measures:
    border_uniformity: float = 0.0
    contrast: float = 0.0
    area_fraction: float = 0.0
    blob_share: float = 0.0
    fill_ratio: float = 0.0
    solidity: float = 0.0
    hole_fraction: float = 0.0
    corners: int = 0
    prominences: tuple[float, ...] = ()


def _rgb(value: FloatArray) -> tuple[float, float, float]:
    return (round(float(value[0]), 2), round(float(value[1]), 2), round(float(value[2]), 2))


def _verdict(
    background: str | None,
    color: str | None,
    shape: str | None,
    bg: FloatArray | None,
    fg: FloatArray | None,
    m: _Measures,
    reason: str = "",
) -> Verdict:
    return Verdict(
        background=background,
        color=color,
        shape=shape,
        background_rgb=None if bg is None else _rgb(bg),
        color_rgb=None if fg is None else _rgb(fg),
        border_uniformity=m.border_uniformity,
        contrast=m.contrast,
        area_fraction=m.area_fraction,
        blob_share=m.blob_share,
        fill_ratio=m.fill_ratio,
        solidity=m.solidity,
        hole_fraction=m.hole_fraction,
        corners=m.corners,
        prominences=m.prominences,
        reason=reason,
    )


def _nearest_color(rgb: FloatArray) -> str | None:
    distances = np.sqrt(((_PALETTE - rgb) ** 2).sum(axis=1))
    best = int(np.argmin(distances))
    return ALL_COLORS[best] if distances[best] <= COLOR_REJECT else None


def _prepare(image: ImageLike) -> FloatArray:
    img = Image.fromarray(np.asarray(image, dtype=np.uint8)) if isinstance(image, np.ndarray) else image
    img = img.convert("RGB")
    w, h = img.size
    if max(w, h) > WORK_SIZE:
        scale = WORK_SIZE / max(w, h)
        img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BOX)
    return np.asarray(img, dtype=np.float32)


def _robust_median(pixels: FloatArray) -> FloatArray:
    """Per-channel median of (at most ~256 evenly strided) pixels."""
    stride = max(1, len(pixels) // 256)
    result: FloatArray = np.median(pixels[::stride], axis=0).astype(np.float32)
    return result


def _smooth(values: FloatArray) -> FloatArray:
    """Separable [1, 2, 1] / 4 smoothing, edges replicated."""
    p = np.pad(values, 1, mode="edge")
    v = (p[:-2] + 2 * p[1:-1] + p[2:]) / 4
    result: FloatArray = ((v[:, :-2] + 2 * v[:, 1:-1] + v[:, 2:]) / 4).astype(np.float32, copy=False)
    return result


# --- connected components on run-length encoded rows (no scipy) ---------------------------------


@dataclass
class _Components:
    rows: NDArray[np.intp]
    starts: NDArray[np.intp]
    ends: NDArray[np.intp]  # exclusive
    labels: NDArray[np.intp]  # component index per run
    areas: NDArray[np.intp]  # per component
    touches_border: BoolArray  # per component
    shape: tuple[int, int]

    def mask(self, keep: BoolArray) -> BoolArray:
        """Pixels of the components where `keep` (per component) is true."""
        h, w = self.shape
        runs = keep[self.labels]
        delta = np.zeros((h, w + 1), dtype=np.int32)
        np.add.at(delta, (self.rows[runs], self.starts[runs]), 1)
        np.add.at(delta, (self.rows[runs], self.ends[runs]), -1)
        result: BoolArray = np.cumsum(delta, axis=1)[:, :w] > 0
        return result


def _components(mask: BoolArray, eight: bool) -> _Components:
    h, w = mask.shape
    padded = np.zeros((h, w + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    step = np.diff(padded, axis=1)
    where_rows, where_cols = np.nonzero(step)
    rising = step[where_rows, where_cols] == 1  # row-major order: each start is followed by its end
    rows, starts, ends = where_rows[rising], where_cols[rising], where_cols[~rising]
    n = len(rows)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    row_ptr = np.searchsorted(rows, np.arange(h + 1)).tolist()
    s_list, e_list = starts.tolist(), ends.tolist()
    slack = 1 if eight else 0
    for r in range(1, h):
        i, i_end = row_ptr[r - 1], row_ptr[r]
        j, j_end = row_ptr[r], row_ptr[r + 1]
        while i < i_end and j < j_end:
            if s_list[i] < e_list[j] + slack and s_list[j] < e_list[i] + slack:
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            if e_list[i] < e_list[j]:
                i += 1
            else:
                j += 1
    # parent[i] <= i always (unions point the larger root at the smaller), so one ascending pass
    # resolves every run's root
    for i in range(n):
        parent[i] = parent[parent[i]]
    unique, labels = np.unique(np.array(parent, dtype=np.intp), return_inverse=True)
    lengths = ends - starts
    areas = np.bincount(labels, weights=lengths, minlength=len(unique)).astype(np.intp)
    on_border = (rows == 0) | (rows == h - 1) | (starts == 0) | (ends == w)
    touches = np.bincount(labels, weights=on_border, minlength=len(unique)) > 0
    return _Components(rows, starts, ends, labels.astype(np.intp), areas, touches, (h, w))


def _largest(mask: BoolArray) -> tuple[BoolArray, int, int]:
    """The largest 8-connected component of `mask`, its area and the area of all components."""
    comps = _components(mask, eight=True)
    if len(comps.areas) == 0:
        return np.zeros_like(mask), 0, 0
    best = int(np.argmax(comps.areas))
    keep = np.zeros(len(comps.areas), dtype=bool)
    keep[best] = True
    return comps.mask(keep), int(comps.areas[best]), int(comps.areas.sum())


def _holes(blob: BoolArray) -> BoolArray:
    """Background pixels enclosed by the blob (4-connected, not reaching the edge of `blob`)."""
    comps = _components(~blob, eight=False)
    return comps.mask(~comps.touches_border)


# --- geometry -------------------------------------------------------------------------------------


def _dilate(mask: BoolArray, radius: int) -> BoolArray:
    """Binary dilation by a (2 radius + 1)-pixel square (separable shifted ORs)."""
    h, w = mask.shape
    rows = mask.copy()
    for d in range(1, radius + 1):
        rows[:, d:] |= mask[:, : w - d]
        rows[:, : w - d] |= mask[:, d:]
    grown = rows.copy()
    for d in range(1, radius + 1):
        grown[d:] |= rows[: h - d]
        grown[: h - d] |= rows[d:]
    return grown


def _hull_area(mask: BoolArray) -> float:
    """Area of the convex hull of the mask's pixel squares (monotone chain over row extremes)."""
    occupied = np.nonzero(mask.any(axis=1))[0]
    if len(occupied) == 0:
        return 0.0
    y0, y1 = int(occupied[0]), int(occupied[-1]) + 1
    rows = mask[y0:y1]
    width = mask.shape[1]
    present = rows.any(axis=1)
    left = np.where(present, np.argmax(rows, axis=1), width + 1)
    right = np.where(present, width - np.argmax(rows[:, ::-1], axis=1), -1)  # exclusive: the right edge's x
    # pixel corners (y, x): at each corner level y, the leftmost and rightmost corner of the rows
    # just above and below it; sorted by y then x, as the monotone chain needs
    lows = np.minimum(np.concatenate([[width + 1], left]), np.concatenate([left, [width + 1]])).tolist()
    highs = np.maximum(np.concatenate([[-1], right]), np.concatenate([right, [-1]])).tolist()
    points = [(y, x) for y, lo, hi in zip(range(y0, y1 + 1), lows, highs, strict=True) if hi >= 0 for x in (lo, hi)]

    def half(ordered: list[tuple[int, int]]) -> list[tuple[int, int]]:
        chain: list[tuple[int, int]] = []
        for p in ordered:
            py, px = p
            while len(chain) >= 2:
                (oy, ox), (ay, ax) = chain[-2], chain[-1]
                if (ay - oy) * (px - ox) - (ax - ox) * (py - oy) > 0:
                    break
                chain.pop()
            chain.append(p)
        return chain[:-1]

    hull = np.array(half(points) + half(points[::-1]), dtype=np.float64)
    if len(hull) < 3:
        return 0.0
    y, x = hull[:, 0], hull[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def _centroid(weights: FloatArray) -> tuple[float, float]:
    total = float(weights.sum())
    cx = float(weights.sum(axis=0) @ np.arange(weights.shape[1], dtype=np.float32)) / total
    cy = float(weights.sum(axis=1) @ np.arange(weights.shape[0], dtype=np.float32)) / total
    return cx, cy


def _radial_profile(weights: FloatArray, cx: float, cy: float, reach: float) -> NDArray[np.float64]:
    """r(theta) for `PROFILE_RAYS` rays: the weights integrated along each ray (bilinear, 0.5 px steps)."""
    h, w = weights.shape
    steps = np.arange(0.25, reach, 0.5)
    theta = 2 * np.pi * np.arange(PROFILE_RAYS) / PROFILE_RAYS
    flat = np.pad(weights.astype(np.float64), 1).ravel()  # zero outside, so rays may leave the crop
    stride = w + 2
    xs = np.clip(cx + 1 + np.cos(theta)[:, None] * steps, 0, w + 0.999)
    ys = np.clip(cy + 1 + np.sin(theta)[:, None] * steps, 0, h + 0.999)
    x0, y0 = np.minimum(xs.astype(np.intp), w), np.minimum(ys.astype(np.intp), h)
    fx, fy = xs - x0, ys - y0
    i = y0 * stride + x0
    top = flat[i] * (1 - fx) + flat[i + 1] * fx
    bottom = flat[i + stride] * (1 - fx) + flat[i + stride + 1] * fx
    samples = top * (1 - fy) + bottom * fy
    profile: NDArray[np.float64] = samples.sum(axis=1) * 0.5
    return profile


def _prominences(profile: NDArray[np.float64]) -> list[float]:
    """Prominence of every local maximum of the circular profile (lightly smoothed), / its mean, largest first."""
    r = ((np.roll(profile, 1) + 2 * profile + np.roll(profile, -1)) / 4).tolist()
    n = len(r)
    mean = sum(r) / n
    if mean <= 0:
        return []
    found = []
    for i in range(n):
        peak = r[i]
        if not (peak > r[i - 1] and peak >= r[(i + 1) % n]):
            continue
        lows = []
        for direction in (-1, 1):
            low = peak
            for j in range(1, n):
                value = r[(i + direction * j) % n]
                if value > peak:
                    break
                if value < low:
                    low = value
            lows.append(low)
        found.append((peak - max(lows)) / mean)
    return sorted(found, reverse=True)


def _classify(m: _Measures) -> tuple[str | None, str]:
    """The shape name (or None) and, when None, why."""
    if m.hole_fraction >= RING_HOLE:
        shape = "ring"
    elif m.corners in _BY_CORNERS:
        shape = _BY_CORNERS[m.corners]
    elif m.corners <= 2 and m.prominences[0] < MAX_OVAL_PROMINENCE:
        shape = "circle"  # an oval
    else:
        return None, f"{m.corners} corners: no known shape"
    low, high = FILL_RANGE[shape]
    if not low <= m.fill_ratio <= high:
        return None, f"fill ratio {m.fill_ratio:.2f} implausible for a {shape}"
    low, high = SOLIDITY_RANGE[shape]
    if not low <= m.solidity <= high:
        return None, f"solidity {m.solidity:.2f} implausible for a {shape}"
    return shape, ""


def judge(image: ImageLike) -> Verdict:
    """Name the background colour, the shape's colour and the shape of one image (see the module doc)."""
    arr = _prepare(image)
    h, w = arr.shape[:2]
    m = _Measures()
    if min(h, w) < 8:
        return _verdict(None, None, None, None, None, m, "image too small")
    b = 2 if min(h, w) >= 32 else 1
    border = np.concatenate(
        [arr[:b].reshape(-1, 3), arr[-b:].reshape(-1, 3), arr[b:-b, :b].reshape(-1, 3), arr[b:-b, -b:].reshape(-1, 3)]
    )
    bg = _robust_median(border)
    m.border_uniformity = float((((border - bg) ** 2).sum(axis=1) < BORDER_TOL**2).mean())
    if m.border_uniformity < MIN_BORDER_UNIFORMITY:
        return _verdict(None, None, None, bg, None, m, "no flat background")
    background = _nearest_color(bg)

    diff = arr - bg
    dist2 = np.einsum("ijk,ijk->ij", diff, diff)
    comps = _components(dist2 > FG_MIN**2, eight=True)
    min_area = max(4, int(MIN_AREA_FRACTION * h * w))
    if len(comps.areas) == 0 or comps.areas.max() < min_area:
        return _verdict(background, None, None, bg, None, m, "no foreground")
    best = int(np.argmax(comps.areas))
    m.blob_share = float(comps.areas[best] / comps.areas.sum())
    if m.blob_share < MIN_BLOB_SHARE:
        return _verdict(background, None, None, bg, None, m, "no single coherent blob")

    # crop to the candidate blob (+ a margin for soft edges); everything else happens in the crop
    runs = comps.labels == best
    y0, y1 = max(0, int(comps.rows[runs].min()) - 3), min(h, int(comps.rows[runs].max()) + 4)
    x0, x1 = max(0, int(comps.starts[runs].min()) - 3), min(w, int(comps.ends[runs].max()) + 3)
    keep = np.zeros(len(comps.areas), dtype=bool)
    keep[best] = True
    candidate = comps.mask(keep)[y0:y1, x0:x1]
    crop_arr, crop_diff, crop_d2 = arr[y0:y1, x0:x1], diff[y0:y1, x0:x1], dist2[y0:y1, x0:x1]

    d2 = crop_d2[candidate][:: max(1, int(candidate.sum()) // 512)]
    high = float(np.partition(d2, int(0.95 * (len(d2) - 1)))[int(0.95 * (len(d2) - 1))])  # 95th percentile
    core = candidate & (crop_d2 >= 0.85**2 * high)
    axis = _robust_median(crop_arr[core]) - bg
    m.contrast = float(np.sqrt((axis**2).sum()))
    if m.contrast < MIN_CONTRAST:
        return _verdict(background, None, None, bg, None, m, "shape too close to the background")

    projection = crop_diff[..., 0] * axis[0] + crop_diff[..., 1] * axis[1] + crop_diff[..., 2] * axis[2]
    coverage = _smooth(np.clip(projection / m.contrast**2, 0.0, 1.0))
    blob, area, _ = _largest(coverage > 0.5)
    m.area_fraction = area / (h * w)
    if area < min_area:
        return _verdict(background, None, None, bg, None, m, "no foreground")
    inner = blob & (coverage > 0.8)
    fg = _robust_median(crop_arr[inner if inner.sum() >= 4 else blob])
    color = _nearest_color(fg)

    holes = _holes(blob)
    filled = blob | holes
    hole_area = int(holes.sum())
    m.hole_fraction = hole_area / (area + hole_area)
    hull = _hull_area(filled)
    m.solidity = (area + hole_area) / hull if hull > 0 else 0.0
    weights = np.maximum(coverage * _dilate(filled, 2), holes)  # the shape, holes filled, nothing else
    cx, cy = _centroid(weights)
    fy, fx = np.nonzero(filled)
    reach = float(np.sqrt(((fx - cx) ** 2 + (fy - cy) ** 2).max())) + 3.0  # + the soft edge
    profile = _radial_profile(weights, cx, cy, reach)
    m.fill_ratio = float((profile**2).mean() / profile.max() ** 2) if profile.max() > 0 else 0.0
    found = _prominences(profile)
    m.corners = sum(1 for p in found if p >= CORNER_PROMINENCE)
    m.prominences = tuple(round(p, 4) for p in found[:6]) or (0.0,)
    shape, reason = _classify(m)
    if color is None and not reason:
        reason = "shape colour far from every vocabulary colour"
    return _verdict(background, color, shape, bg, fg, m, reason)


def matches(image: ImageLike, scene: Scene) -> dict[str, bool]:
    """Which parts of `scene` the image shows: {"background", "color", "shape", "all"}."""
    verdict = judge(image)
    result = {
        "background": verdict.background == scene.background,
        "color": verdict.color == scene.color,
        "shape": verdict.shape == scene.shape,
    }
    result["all"] = all(result.values())
    return result


def adherence(images: Sequence[ImageLike], scenes: Sequence[Scene]) -> dict[str, float]:
    """The fraction of images that match their scene on each criterion and on all of them."""
    if len(images) != len(scenes):
        raise ValueError(f"{len(images)} images but {len(scenes)} scenes")
    if not scenes:
        raise ValueError("adherence of no images is undefined")
    totals = {"background": 0, "color": 0, "shape": 0, "all": 0}
    for image, scene in zip(images, scenes, strict=True):
        for key, ok in matches(image, scene).items():
            totals[key] += int(ok)
    return {key: count / len(scenes) for key, count in totals.items()}


def shape_adherence(images: Sequence[ImageLike], scenes: Sequence[Scene]) -> dict[str, float]:
    """For each shape the scenes ask for, the fraction of its images that show it (a per-shape
    breakdown of `adherence`'s "shape": one shape drawn well can hide another never drawn)."""
    if len(images) != len(scenes):
        raise ValueError(f"{len(images)} images but {len(scenes)} scenes")
    asked: dict[str, list[bool]] = {}
    for image, scene in zip(images, scenes, strict=True):
        asked.setdefault(scene.shape, []).append(judge(image).shape == scene.shape)
    return {shape: sum(hits) / len(hits) for shape, hits in asked.items()}


def concept_adherence(images: Sequence[ImageLike], scenes: Sequence[Scene], concept: str) -> float:
    """The fraction of images that show `concept` (a colour or shape word) wherever their scene
    puts it: as the shape's colour, the background or the shape. Scenes without it are refused."""
    if len(images) != len(scenes):
        raise ValueError(f"{len(images)} images but {len(scenes)} scenes")
    if not scenes or any(concept not in scene.concepts for scene in scenes):
        raise ValueError(f"every scene must use {concept!r}")
    hits = 0
    for image, scene in zip(images, scenes, strict=True):
        verdict = judge(image)
        roles = [(scene.color, verdict.color), (scene.background, verdict.background), (scene.shape, verdict.shape)]
        hits += all(seen == concept for wanted, seen in roles if wanted == concept)
    return hits / len(scenes)
