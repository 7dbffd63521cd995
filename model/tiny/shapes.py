"""The procedural captioned dataset that `sana-tiny` is trained on.

Every image is one flat-coloured shape on a flat background, captioned
"a red circle on a blue background". The vocabulary is small and fixed:

    colours  red orange yellow green cyan blue purple white black   + pink (held out)
    shapes   circle square triangle ring                            + star (held out)

The base `sana-tiny`'s DiT only ever sees `BASE_COLORS` x `BASE_SHAPES` (its autoencoder sees
all). `HELD_OUT_COLORS` and `HELD_OUT_SHAPES` are concepts the DiT has never seen (not as shape,
colour or background), kept back so that a LoRA fine-tune can be shown to teach something new:
`sample_scenes(..., require_any=...)` builds the fine-tune set, `HELD_OUT_EVAL_SCENES` the prompts
it is judged on (`judge.py`).

Rendering draws at 4x the target size and box-filters down, so edges are antialiased; the shape's
outer diameter is 28-60% of the image width, it lies fully inside the image with a margin, and
squares, triangles and stars are rotated at random. Everything is deterministic for a given
`numpy.random.Generator` state / seed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

RGB = tuple[int, int, int]

# Names a person would use; values chosen to be far apart (nearest pair, orange/yellow, is ~97 apart
# in RGB), so that blur, noise and a colour cast of ~15 per channel never move one onto another.
COLORS: dict[str, RGB] = {
    "red": (215, 35, 35),
    "orange": (245, 130, 20),
    "yellow": (245, 225, 40),
    "green": (35, 160, 60),
    "cyan": (40, 205, 225),
    "blue": (35, 75, 215),
    "purple": (140, 45, 170),
    "pink": (250, 125, 195),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "ring", "star")

HELD_OUT_COLORS: tuple[str, ...] = ("pink",)
HELD_OUT_SHAPES: tuple[str, ...] = ("star",)
BASE_COLORS: tuple[str, ...] = tuple(c for c in COLORS if c not in HELD_OUT_COLORS)
BASE_SHAPES: tuple[str, ...] = tuple(s for s in SHAPES if s not in HELD_OUT_SHAPES)
ALL_COLORS: tuple[str, ...] = tuple(COLORS)
ALL_SHAPES: tuple[str, ...] = SHAPES

SUPERSAMPLE = 4
MIN_DIAMETER = 0.28  # outer diameter of the shape, as a fraction of the image width
MAX_DIAMETER = 0.60
STAR_INNER = 0.45  # inner / outer radius of the five-pointed star
RING_INNER = 0.55  # hole radius / outer radius of the ring
MIN_SIZE = 16


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


@dataclass(frozen=True)
class Scene:
    """One shape of one colour on a flat background of another colour."""

    shape: str
    color: str
    background: str

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"unknown shape {self.shape!r}; known: {', '.join(SHAPES)}")
        for name in (self.color, self.background):
            if name not in COLORS:
                raise ValueError(f"unknown colour {name!r}; known: {', '.join(COLORS)}")
        if self.color == self.background:
            raise ValueError(f"the shape's colour must differ from the background ({self.color})")

    @property
    def caption(self) -> str:
        """'a red circle on a blue background' ('an' before a vowel: 'an orange ...')."""
        return (
            f"{_article(self.color)} {self.color} {self.shape} on "
            f"{_article(self.background)} {self.background} background"
        )

    @property
    def concepts(self) -> frozenset[str]:
        """The vocabulary words the scene uses."""
        return frozenset((self.shape, self.color, self.background))


_CAPTION = re.compile(r"^(?:an? )?([a-z]+) ([a-z]+) on (?:an? )?([a-z]+)(?: background)?$")


def parse_caption(text: str) -> Scene | None:
    """The scene a caption describes, or None. Case, extra spaces and a final full stop are ignored."""
    normal = " ".join(text.lower().split()).rstrip(".").strip()
    match = _CAPTION.match(normal)
    if match is None:
        return None
    color, shape, background = match.groups()
    if shape not in SHAPES or color not in COLORS or background not in COLORS or color == background:
        return None
    return Scene(shape=shape, color=color, background=background)


def _regular_polygon(cx: float, cy: float, radius: float, sides: int, angle: float) -> list[tuple[float, float]]:
    angles = [angle + 2 * math.pi * i / sides for i in range(sides)]
    return [(cx + radius * math.cos(a), cy + radius * math.sin(a)) for a in angles]


def _star(cx: float, cy: float, radius: float, angle: float) -> list[tuple[float, float]]:
    points = []
    for i in range(10):
        r = radius if i % 2 == 0 else radius * STAR_INNER
        a = angle + math.pi * i / 5
        points.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return points


def render(scene: Scene, size: int, rng: np.random.Generator) -> Image.Image:
    """An RGB `size` x `size` image of the scene; position, size and rotation drawn from `rng`.

    The shape's circumscribed diameter is 28-60% of the width, and the shape keeps a margin of at
    least 2% of the width (>= 1.5 px) from every edge, so the outermost pixels are pure background.
    """
    if size < MIN_SIZE:
        raise ValueError(f"size must be at least {MIN_SIZE} px, got {size}")
    diameter = float(rng.uniform(MIN_DIAMETER, MAX_DIAMETER)) * size
    radius = diameter / 2
    margin = max(1.5, 0.02 * size)
    cx = float(rng.uniform(radius + margin, size - radius - margin))
    cy = float(rng.uniform(radius + margin, size - radius - margin))
    angle = float(rng.uniform(0.0, 2 * math.pi))  # drawn for every shape: same rng use whatever the shape

    s = SUPERSAMPLE
    big = Image.new("RGB", (size * s, size * s), COLORS[scene.background])
    draw = ImageDraw.Draw(big)
    fill = COLORS[scene.color]
    X, Y, R = cx * s, cy * s, radius * s
    if scene.shape == "circle":
        draw.ellipse((X - R, Y - R, X + R, Y + R), fill=fill)
    elif scene.shape == "ring":
        r = R * RING_INNER
        draw.ellipse((X - R, Y - R, X + R, Y + R), fill=fill)
        draw.ellipse((X - r, Y - r, X + r, Y + r), fill=COLORS[scene.background])
    elif scene.shape == "square":
        draw.polygon(_regular_polygon(X, Y, R, 4, angle), fill=fill)
    elif scene.shape == "triangle":
        draw.polygon(_regular_polygon(X, Y, R, 3, angle), fill=fill)
    else:  # star
        draw.polygon(_star(X, Y, R, angle), fill=fill)
    return big.resize((size, size), Image.Resampling.BOX)


def _combinations(colors: Sequence[str], shapes: Sequence[str], require_any: Collection[str]) -> list[Scene]:
    scenes = [
        Scene(shape=shape, color=color, background=background)
        for shape in shapes
        for color in colors
        for background in colors
        if color != background
    ]
    if require_any:
        wanted = frozenset(require_any)
        scenes = [scene for scene in scenes if scene.concepts & wanted]
    if not scenes:
        raise ValueError("no valid scene: need at least two colours and one shape (and the required concepts)")
    return scenes


def sample_scenes(
    n: int,
    rng: np.random.Generator,
    colors: Sequence[str] = BASE_COLORS,
    shapes: Sequence[str] = BASE_SHAPES,
    *,
    require_any: Collection[str] = (),
) -> list[Scene]:
    """`n` scenes drawn uniformly (with replacement) from every valid (shape, colour, background).

    `require_any` keeps only scenes that use at least one of these words (as shape, colour or
    background): `require_any=HELD_OUT_COLORS + HELD_OUT_SHAPES` with all colours and shapes gives
    the set a LoRA is fine-tuned on to learn the held-out concepts.
    """
    pool = _combinations(colors, shapes, require_any)
    return [pool[int(i)] for i in rng.integers(0, len(pool), size=n)]


def write_dataset(
    folder: Path,
    n: int,
    size: int,
    seed: int,
    colors: Sequence[str] = BASE_COLORS,
    shapes: Sequence[str] = BASE_SHAPES,
    *,
    require_any: Collection[str] = (),
) -> list[Scene]:
    """Write `0000.png`... and `metadata.jsonl` (Hugging Face imagefolder) into `folder`.

    Deterministic for a given seed; image `i` depends only on (seed, i) and its scene, so a
    larger `n` with the same seed extends a smaller one. Returns the scenes, in file order.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    scenes = sample_scenes(n, np.random.default_rng(seed), colors, shapes, require_any=require_any)
    width = max(4, len(str(max(n - 1, 0))))
    lines = []
    for i, scene in enumerate(scenes):
        name = f"{i:0{width}d}.png"
        render(scene, size, np.random.default_rng([seed, i])).save(folder / name)
        lines.append(json.dumps({"file_name": name, "text": scene.caption}))
    (folder / "metadata.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return scenes


def _eval_scenes() -> tuple[Scene, ...]:
    # 24 distinct scenes: shape i % 4, colour i % 9 (4 and 9 are coprime, so no pair repeats),
    # background a few colours further on. Every base colour is a shape colour 2-3 times and a
    # background 2-3 times; every base shape appears 6 times.
    scenes = []
    for i in range(24):
        color = BASE_COLORS[i % len(BASE_COLORS)]
        offset = (4, 2, 7)[i // len(BASE_COLORS)]
        background = BASE_COLORS[(i + offset) % len(BASE_COLORS)]
        scenes.append(Scene(shape=BASE_SHAPES[i % len(BASE_SHAPES)], color=color, background=background))
    return tuple(scenes)


EVAL_SCENES: tuple[Scene, ...] = _eval_scenes()

# Prompts that each use a held-out concept: stars in base colours, pink base shapes, pink stars and
# a pink background. The base model's DiT never saw any of these words.
HELD_OUT_EVAL_SCENES: tuple[Scene, ...] = (
    Scene("star", "yellow", "blue"),
    Scene("star", "red", "white"),
    Scene("star", "white", "black"),
    Scene("star", "green", "yellow"),
    Scene("star", "blue", "orange"),
    Scene("star", "orange", "purple"),
    Scene("circle", "pink", "blue"),
    Scene("square", "pink", "black"),
    Scene("triangle", "pink", "green"),
    Scene("ring", "pink", "white"),
    Scene("star", "pink", "cyan"),
    Scene("circle", "black", "pink"),
)
