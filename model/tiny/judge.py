"""An automatic judge: does a generated image show the scene its prompt asked for?

`judge(image)` reads one image of the `shapes.py` world and names its background colour, the
shape's colour and the shape, each from the vocabulary, or None where the image does not show it
(a blank image, noise, several blobs, a colour far from every vocabulary colour). It is meant for
the output of a small generator, so it tolerates blur, noise, soft edges, JPEG softening and a
colour cast. It is deterministic and pure numpy + Pillow (no scipy).

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
  6. Shape, from rotation-invariant geometry:
       ring      the blob encloses a hole (4-connected background not reaching the outside) of at
                 least `RING_HOLE` of its filled area;
       k-fold    normalised complex moments of the coverage around its centroid,
                 A_k = |sum w r^k e^(ik theta)| / sum w r^k, for k = 3, 4, 5. A k-fold symmetric
                 shape only has harmonics that are multiples of k: a triangle has A_3 ~0.6, a
                 square A_4 ~0.4, a five-pointed star A_5 ~0.8, a circle none. The strongest one,
                 if >= `HARMONIC_MIN`, names triangle, square or star, else the blob is a circle;
       sanity    the fill ratio (area over the circle through the farthest pixel from the
                 centroid) must be plausible for the shape named (`FILL_RANGE`), and the solidity
                 (area over convex hull area) high enough for one shape; else the shape is None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFilter

from sanacloud.model.tiny.shapes import ALL_COLORS, COLORS, Scene

WORK_SIZE = 128  # images larger than this are box-downsampled to it first
BORDER_TOL = 40.0  # RGB distance: a border pixel this close to the border median is background
MIN_BORDER_UNIFORMITY = 0.5
COLOR_REJECT = 80.0  # RGB distance beyond which a colour is named None (mid grey is ~94 from all)
FG_MIN = 40.0  # RGB distance from the background for a pixel to be a foreground candidate
MIN_CONTRAST = 48.0  # the shape colour must be at least this far from the background
MIN_AREA_FRACTION = 0.005  # of the image; the smallest rendered shape covers ~2.5%
MIN_BLOB_SHARE = 0.6  # the largest candidate component must hold this share of all candidates
MIN_SOLIDITY = 0.45  # star ~0.6-0.85, others > 0.83
RING_HOLE = 0.06  # rendered rings: ~0.3
HARMONIC_MIN = 0.12  # circles stay below ~0.04; triangle A_3, square A_4, star A_5 are >= ~0.3
# Plausible fill ratio per shape (rings measured with the hole filled). Clean renders measure
# circle/ring 0.88-0.98, square 0.64-0.74, triangle 0.43-0.56, star 0.44-0.64; blur raises them.
FILL_RANGE: dict[str, tuple[float, float]] = {
    "circle": (0.75, 1.25),
    "ring": (0.7, 1.25),
    "square": (0.5, 0.9),
    "triangle": (0.3, 0.75),
    "star": (0.3, 0.8),
}
_HARMONIC_SHAPES = ("triangle", "square", "star")  # for k = 3, 4, 5

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
    fill_ratio: float = 0.0  # filled area / (pi r_max^2), r_max from the centroid
    solidity: float = 0.0  # filled area / convex hull area
    hole_fraction: float = 0.0  # enclosed hole area / filled area
    harmonics: tuple[float, float, float] = (0.0, 0.0, 0.0)  # A_3, A_4, A_5
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
    harmonics: tuple[float, float, float] = (0.0, 0.0, 0.0)


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
        harmonics=m.harmonics,
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
    """Per-channel median of (at most ~1000 evenly strided) pixels."""
    stride = max(1, len(pixels) // 1000)
    result: FloatArray = np.median(pixels[::stride], axis=0).astype(np.float32)
    return result


def _smooth(values: FloatArray) -> FloatArray:
    """Separable [1, 2, 1] / 4 smoothing, edges replicated."""
    p = np.pad(values, 1, mode="edge")
    v = (p[:-2] + 2 * p[1:-1] + p[2:]) / 4
    result: FloatArray = (v[:, :-2] + 2 * v[:, 1:-1] + v[:, 2:]) / 4
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


def _dilate(mask: BoolArray, size: int) -> BoolArray:
    grown = Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(size))
    result: BoolArray = np.asarray(grown) > 127
    return result


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
    points = [
        (y, x)
        for y, lo, hi in zip(range(y0, y1 + 1), lows, highs, strict=True)
        if hi >= 0
        for x in (lo, hi)
    ]

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


def _moments(weights: FloatArray) -> tuple[tuple[float, float, float], float, float, float]:
    """(A_3, A_4, A_5), the weighted centroid (x, y) and the total weight."""
    w = weights.astype(np.float64)
    total = float(w.sum())
    ys, xs = np.indices(w.shape, dtype=np.float64)
    cx = float((w * xs).sum()) / total
    cy = float((w * ys).sum()) / total
    z = (xs - cx) + 1j * (ys - cy)
    r = np.abs(z)
    zk = z * z
    rk = r * r
    values = []
    for _ in (3, 4, 5):
        zk = zk * z
        rk = rk * r
        denominator = float((w * rk).sum())
        values.append(float(abs((w * zk).sum())) / denominator if denominator > 0 else 0.0)
    return (values[0], values[1], values[2]), cx, cy, total


def _classify(harmonics: tuple[float, float, float], hole_fraction: float) -> str:
    if hole_fraction >= RING_HOLE:
        return "ring"
    k = int(np.argmax(harmonics))
    return _HARMONIC_SHAPES[k] if harmonics[k] >= HARMONIC_MIN else "circle"


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

    # crop to the candidate blob (+ margin for soft edges); everything else happens in the crop
    runs = comps.labels == best
    y0, y1 = max(0, int(comps.rows[runs].min()) - 3), min(h, int(comps.rows[runs].max()) + 4)
    x0, x1 = max(0, int(comps.starts[runs].min()) - 3), min(w, int(comps.ends[runs].max()) + 3)
    keep = np.zeros(len(comps.areas), dtype=bool)
    keep[best] = True
    candidate = comps.mask(keep)[y0:y1, x0:x1]
    crop_arr, crop_diff, crop_d2 = arr[y0:y1, x0:x1], diff[y0:y1, x0:x1], dist2[y0:y1, x0:x1]

    d2 = crop_d2[candidate]
    core = candidate & (crop_d2 >= 0.85**2 * float(np.percentile(d2, 95)))
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
    m.harmonics, cx, cy, soft_area = _moments(coverage * _dilate(filled, 5))
    fy, fx = np.nonzero(filled)
    r_max = float(np.sqrt(((fx - cx) ** 2 + (fy - cy) ** 2).max())) + 0.5
    m.fill_ratio = (soft_area + hole_area) / (np.pi * r_max**2)
    hull = _hull_area(filled)
    m.solidity = (area + hole_area) / hull if hull > 0 else 0.0

    reason = ""
    shape: str | None = _classify(m.harmonics, m.hole_fraction)
    low, high = FILL_RANGE[str(shape)]
    if not low <= m.fill_ratio <= high:
        reason = f"fill ratio {m.fill_ratio:.2f} implausible for a {shape}"
        shape = None
    elif m.solidity < MIN_SOLIDITY:
        reason = f"solidity {m.solidity:.2f}: not one coherent shape"
        shape = None
    if color is None and not reason:
        reason = "shape colour far from every vocabulary colour"
    return _verdict(background, color, shape, bg, fg, m, reason)


def matches(image: Image.Image | NDArray[np.uint8], scene: Scene) -> dict[str, bool]:
    """Which parts of `scene` the image shows: {"background", "color", "shape", "all"}."""
    verdict = judge(image)
    result = {
        "background": verdict.background == scene.background,
        "color": verdict.color == scene.color,
        "shape": verdict.shape == scene.shape,
    }
    result["all"] = all(result.values())
    return result


def adherence(images: Sequence[Image.Image | NDArray[np.uint8]], scenes: Sequence[Scene]) -> dict[str, float]:
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
