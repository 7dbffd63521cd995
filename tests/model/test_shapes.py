"""The procedural `sana-tiny` dataset (shapes.py) and the judge that scores generated images (judge.py)."""

from __future__ import annotations

import io
import itertools
import json
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from sanacloud.model.tiny.judge import Verdict, adherence, concept_adherence, judge, matches, shape_adherence
from sanacloud.model.tiny.shapes import (
    ALL_COLORS,
    ALL_SHAPES,
    BASE_COLORS,
    BASE_SHAPES,
    COLORS,
    EVAL_SCENES,
    HELD_OUT_COLORS,
    HELD_OUT_EVAL_SCENES,
    HELD_OUT_SHAPES,
    Scene,
    parse_caption,
    render,
    sample_scenes,
    write_dataset,
)

HELD_OUT = frozenset(HELD_OUT_COLORS + HELD_OUT_SHAPES)

# --- vocabulary and captions --------------------------------------------------------------------


def test_vocabulary_splits_base_and_held_out() -> None:
    assert set(BASE_COLORS).isdisjoint(HELD_OUT_COLORS) and set(BASE_SHAPES).isdisjoint(HELD_OUT_SHAPES)
    assert set(BASE_COLORS) | set(HELD_OUT_COLORS) == set(COLORS) == set(ALL_COLORS)
    assert set(BASE_SHAPES) | set(HELD_OUT_SHAPES) == set(ALL_SHAPES)
    assert "pink" in HELD_OUT_COLORS and "star" in HELD_OUT_SHAPES
    assert {"red", "green", "blue", "yellow", "purple", "orange", "white", "black", "cyan"} <= set(BASE_COLORS)
    assert {"circle", "square", "triangle"} <= set(BASE_SHAPES)
    # colours far apart: a colour cast of 15 per channel (26 in RGB distance) never crosses halfway
    closest = min(
        float(np.linalg.norm(np.subtract(COLORS[a], COLORS[b]))) for a, b in itertools.combinations(COLORS, 2)
    )
    assert closest > 2 * 15 * np.sqrt(3) + 20


def test_captions_round_trip_for_every_scene() -> None:
    scenes = [Scene(s, c, b) for s in ALL_SHAPES for c in ALL_COLORS for b in ALL_COLORS if c != b]
    captions = {scene.caption for scene in scenes}
    assert len(captions) == len(scenes)
    for scene in scenes:
        assert parse_caption(scene.caption) == scene
    assert Scene("circle", "red", "blue").caption == "a red circle on a blue background"
    assert Scene("square", "orange", "white").caption == "an orange square on a white background"
    assert Scene("star", "pink", "orange").caption == "a pink star on an orange background"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  A   Red CIRCLE on a BLUE   background. ", Scene("circle", "red", "blue")),
        ("a orange ring on an black background", Scene("ring", "orange", "black")),
        ("\tpink star on white\n", Scene("star", "pink", "white")),
        ("a red circle on a red background", None),
        ("a red hexagon on a blue background", None),
        ("a magenta circle on a blue background", None),
        ("a red circle", None),
        ("a red circle on a blue background with a cat", None),
        ("", None),
    ],
)
def test_parse_caption_is_tolerant_but_strict_about_the_vocabulary(text: str, expected: Scene | None) -> None:
    assert parse_caption(text) == expected


def test_scene_rejects_unknown_words_and_same_colours() -> None:
    for args in [("hexagon", "red", "blue"), ("circle", "magenta", "blue"), ("circle", "red", "red")]:
        with pytest.raises(ValueError):
            Scene(*args)


# --- rendering and datasets -----------------------------------------------------------------------


def test_render_is_deterministic_and_keeps_the_shape_inside() -> None:
    pairs = itertools.permutations(ALL_COLORS, 2)  # every (colour, background), each shape in turn
    for i, scene in enumerate(Scene(ALL_SHAPES[i % len(ALL_SHAPES)], c, b) for i, (c, b) in enumerate(pairs)):
        for size in (32, 64, 128):
            a = render(scene, size, np.random.default_rng(i))
            assert a.mode == "RGB" and a.size == (size, size)
            assert a.tobytes() == render(scene, size, np.random.default_rng(i)).tobytes()
            assert a.tobytes() != render(scene, size, np.random.default_rng(i + 1000)).tobytes()
            pixels = np.asarray(a).astype(int)
            bg, fg = np.array(COLORS[scene.background]), np.array(COLORS[scene.color])
            edge = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
            assert (edge == bg).all(), f"{scene} touches the edge at {size} px"
            assert (pixels == fg).all(axis=2).any(), f"{scene} has no pixel of its colour at {size} px"
            ys, xs = np.nonzero((pixels != bg).any(axis=2))
            extent = max(xs.max() - xs.min(), ys.max() - ys.min()) + 1
            assert 0.15 * size <= extent <= 0.6 * size + 2, (scene, size, extent)  # + antialiased edge pixels


def test_sample_scenes_draws_valid_combinations_uniformly() -> None:
    rng = np.random.default_rng(0)
    scenes = sample_scenes(4000, rng)
    assert all(s.color != s.background for s in scenes)
    assert not any(s.concepts & HELD_OUT for s in scenes), "the base set must never see held-out concepts"
    shapes = {s: sum(1 for x in scenes if x.shape == s) for s in BASE_SHAPES}
    colors = {c: sum(1 for x in scenes if x.color == c) for c in BASE_COLORS}
    assert min(shapes.values()) > 0.8 * 4000 / len(BASE_SHAPES), shapes
    assert min(colors.values()) > 0.8 * 4000 / len(BASE_COLORS), colors
    assert sample_scenes(50, np.random.default_rng(7)) == sample_scenes(50, np.random.default_rng(7))

    lora = sample_scenes(500, rng, ALL_COLORS, ALL_SHAPES, require_any=HELD_OUT)
    assert all(s.concepts & HELD_OUT for s in lora)
    assert {s.shape for s in lora} == set(ALL_SHAPES) and {s.color for s in lora} == set(ALL_COLORS)
    with pytest.raises(ValueError):
        sample_scenes(1, rng, colors=("red",))


def test_write_dataset_writes_images_and_imagefolder_metadata(tmp_path: Path) -> None:
    root = tmp_path
    scenes = write_dataset(root / "a", n=12, size=32, seed=3)
    lines = (root / "a" / "metadata.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(scenes) == 12
    for i, (line, scene) in enumerate(zip(lines, scenes, strict=True)):
        row = json.loads(line)
        assert row == {"file_name": f"{i:04d}.png", "text": scene.caption}
        assert parse_caption(row["text"]) == scene
        with Image.open(root / "a" / row["file_name"]) as img:
            assert img.mode == "RGB" and img.size == (32, 32)
    assert sorted(p.name for p in (root / "a").iterdir()) == sorted(
        [f"{i:04d}.png" for i in range(12)] + ["metadata.jsonl"]
    )

    # deterministic, and a larger n with the same seed extends a smaller one
    again = write_dataset(root / "b", n=12, size=32, seed=3)
    assert again == scenes
    for i in range(12):
        assert (root / "a" / f"{i:04d}.png").read_bytes() == (root / "b" / f"{i:04d}.png").read_bytes()
    assert (root / "a" / "metadata.jsonl").read_bytes() == (root / "b" / "metadata.jsonl").read_bytes()
    other = write_dataset(root / "c", n=12, size=32, seed=4)
    assert other != scenes

    held = write_dataset(root / "d", n=8, size=32, seed=0, colors=ALL_COLORS, shapes=ALL_SHAPES, require_any=HELD_OUT)
    assert all(s.concepts & HELD_OUT for s in held)


def test_eval_scene_sets() -> None:
    assert len(EVAL_SCENES) == 24 and len(set(EVAL_SCENES)) == 24
    assert {s.shape for s in EVAL_SCENES} == set(BASE_SHAPES)
    assert {s.color for s in EVAL_SCENES} == set(BASE_COLORS) == {s.background for s in EVAL_SCENES}
    assert not any(s.concepts & HELD_OUT for s in EVAL_SCENES)
    assert len(set(HELD_OUT_EVAL_SCENES)) == len(HELD_OUT_EVAL_SCENES) >= 8
    assert all(s.concepts & HELD_OUT for s in HELD_OUT_EVAL_SCENES)
    assert {s.shape for s in HELD_OUT_EVAL_SCENES} >= set(HELD_OUT_SHAPES)
    assert {s.color for s in HELD_OUT_EVAL_SCENES} >= set(HELD_OUT_COLORS)


# --- the judge --------------------------------------------------------------------------------


def degrade(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """What a small generator does at 128 px: blur, noise, a colour cast, JPEG-like softening."""
    image = image.filter(ImageFilter.GaussianBlur(2.0 * image.width / 128))
    pixels = np.asarray(image, dtype=np.float64)
    pixels = pixels + rng.normal(0.0, 10.0, pixels.shape) + rng.choice([-15.0, 15.0], size=3)
    image = Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=50)
    buffer.seek(0)
    with Image.open(buffer) as softened:
        return softened.convert("RGB")


def per_class_report(scenes: Sequence[Scene], verdicts: Sequence[Verdict]) -> tuple[float, dict[str, float], str]:
    """Overall accuracy (all three right), per-class accuracies (shape / colour / background), and a message."""
    right: dict[str, list[bool]] = defaultdict(list)
    wrong: list[str] = []
    for scene, v in zip(scenes, verdicts, strict=True):
        ok = (v.shape, v.color, v.background) == (scene.shape, scene.color, scene.background)
        right[f"shape={scene.shape}"].append(ok)
        right[f"color={scene.color}"].append(ok)
        right[f"background={scene.background}"].append(ok)
        if not ok and len(wrong) < 10:
            wrong.append(f"{scene.caption} -> {v.shape}/{v.color}/{v.background} ({v.reason})")
    overall = float(
        np.mean(
            [
                (v.shape, v.color, v.background) == (s.shape, s.color, s.background)
                for s, v in zip(scenes, verdicts, strict=True)
            ]
        )
    )
    classes = {name: float(np.mean(oks)) for name, oks in sorted(right.items())}
    message = (
        f"overall {overall:.3f}; per class: "
        + ", ".join(f"{k} {v:.2f} (n={len(right[k])})" for k, v in classes.items())
        + "; first errors: "
        + "; ".join(wrong)
    )
    return overall, classes, message


N_JUDGED = 500


@pytest.fixture(scope="module")
def scenes500() -> list[Scene]:
    return sample_scenes(N_JUDGED, np.random.default_rng(2024), ALL_COLORS, ALL_SHAPES)


@pytest.fixture(scope="module")
def images128(scenes500: list[Scene]) -> list[Image.Image]:
    rng = np.random.default_rng(1)
    return [render(s, 128, rng) for s in scenes500]


def check(scenes: Sequence[Scene], images: Sequence[Image.Image], minimum: float, class_minimum: float) -> None:
    overall, classes, message = per_class_report(scenes, [judge(im) for im in images])
    assert {k.split("=")[1] for k in classes if k.startswith("shape=")} == set(ALL_SHAPES)
    assert {k.split("=")[1] for k in classes if k.startswith("color=")} == set(ALL_COLORS)
    assert overall >= minimum, message
    assert min(classes.values()) >= class_minimum, message


def test_judge_reads_clean_renders_at_128(scenes500: list[Scene], images128: list[Image.Image]) -> None:
    check(scenes500, images128, 0.99, 0.99)


def test_judge_reads_clean_renders_at_64(scenes500: list[Scene]) -> None:
    rng = np.random.default_rng(2)
    check(scenes500, [render(s, 64, rng) for s in scenes500], 0.97, 0.97)


def test_judge_reads_renders_at_256() -> None:
    scenes = sample_scenes(60, np.random.default_rng(5), ALL_COLORS, ALL_SHAPES)
    rng = np.random.default_rng(6)
    check(scenes, [render(s, 256, rng) for s in scenes], 0.99, 0.99)


def test_judge_survives_generator_like_degradation(scenes500: list[Scene], images128: list[Image.Image]) -> None:
    rng = np.random.default_rng(3)
    n = 300  # of the 500, to keep the file fast
    check(scenes500[:n], [degrade(im, rng) for im in images128[:n]], 0.95, 0.95)


def test_judge_accepts_arrays_and_other_modes() -> None:
    scene = Scene("triangle", "green", "white")
    image = render(scene, 128, np.random.default_rng(0))
    for variant in (np.asarray(image), image.convert("RGBA"), image.resize((100, 100))):
        v = judge(variant)
        assert (v.shape, v.color, v.background) == ("triangle", "green", "white"), v


@pytest.mark.parametrize("color", ["white", "black", "blue", "pink"])
def test_uniform_image_has_no_shape(color: str) -> None:
    v = judge(Image.new("RGB", (128, 128), COLORS[color]))
    assert v.shape is None and v.color is None and v.background == color
    assert not any(matches(Image.new("RGB", (128, 128), COLORS[color]), s)["all"] for s in EVAL_SCENES)
    grey = judge(Image.new("RGB", (128, 128), (128, 128, 128)))
    assert grey.shape is None and grey.background is None


def noise_images() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [
        Image.fromarray(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)),
        Image.fromarray(np.clip(128 + rng.normal(0, 40, (128, 128, 3)), 0, 255).astype(np.uint8)),
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).resize((128, 128), Image.Resampling.BICUBIC),
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).filter(ImageFilter.GaussianBlur(1)),
    ]


def test_noise_is_not_a_shape() -> None:
    for image in noise_images():
        v = judge(image)
        assert v.shape is None, v
        assert not any(matches(image, s)["all"] for s in EVAL_SCENES + HELD_OUT_EVAL_SCENES)


def drawn(*strokes: Callable[[ImageDraw.ImageDraw], None], background: str = "blue") -> Image.Image:
    """A 128 px image drawn at 512 px and box-filtered down, like `render`."""
    image = Image.new("RGB", (512, 512), COLORS[background])
    for stroke in strokes:
        stroke(ImageDraw.Draw(image))
    return image.resize((128, 128), Image.Resampling.BOX)


def test_judge_refuses_what_is_not_one_known_shape() -> None:
    yellow = COLORS["yellow"]
    two = drawn(
        lambda d: d.ellipse((40, 40, 200, 200), fill=yellow), lambda d: d.ellipse((300, 300, 460, 460), fill=yellow)
    )
    plus = drawn(
        lambda d: d.rectangle((220, 100, 290, 420), fill=yellow),
        lambda d: d.rectangle((100, 220, 420, 290), fill=yellow),
    )
    line = drawn(lambda d: d.line((60, 60, 450, 450), fill=yellow, width=20))
    for image in (two, plus, line):
        assert judge(image).shape is None, judge(image)
    grey_disc = drawn(lambda d: d.ellipse((150, 150, 350, 350), fill=(128, 128, 128)))
    v = judge(grey_disc)
    assert v.shape == "circle" and v.color is None and v.background == "blue"


def test_judge_tolerates_imperfect_shapes() -> None:
    yellow = COLORS["yellow"]
    cases = {
        "circle": drawn(lambda d: d.ellipse((110, 130, 370, 330), fill=yellow)),  # an oval, aspect 1.3
        "square": drawn(lambda d: d.rounded_rectangle((130, 130, 380, 380), radius=50, fill=yellow)),
        "triangle": drawn(lambda d: d.polygon([(100, 100), (400, 100), (100, 400)], fill=yellow)),  # not equilateral
    }
    for shape, image in cases.items():
        assert judge(image).shape == shape, (shape, judge(image))


def test_matches_and_adherence() -> None:
    scene = Scene("circle", "red", "blue")
    rng = np.random.default_rng(0)
    images = [
        render(scene, 128, rng),  # all right
        render(Scene("square", "red", "blue"), 128, rng),  # wrong shape
        render(Scene("circle", "red", "white"), 128, rng),  # wrong background
        Image.new("RGB", (128, 128), COLORS["blue"]),  # blank: only the background is right
    ]
    assert matches(images[0], scene) == {"background": True, "color": True, "shape": True, "all": True}
    assert matches(images[1], scene) == {"background": True, "color": True, "shape": False, "all": False}
    assert matches(images[3], scene) == {"background": True, "color": False, "shape": False, "all": False}
    assert adherence(images, [scene] * 4) == {"background": 0.75, "color": 0.75, "shape": 0.5, "all": 0.25}
    with pytest.raises(ValueError):
        adherence(images, [scene] * 3)


def test_shape_adherence_is_per_shape_asked() -> None:
    rng = np.random.default_rng(2)
    circle, square = Scene("circle", "red", "blue"), Scene("square", "white", "black")
    images = [render(circle, 128, rng), render(circle, 128, rng), render(square, 128, rng),
              render(Scene("circle", "white", "black"), 128, rng)]  # a circle where a square was asked
    assert shape_adherence(images, [circle, circle, square, square]) == {"circle": 1.0, "square": 0.5}
    with pytest.raises(ValueError):
        shape_adherence(images, [circle])


def test_concept_adherence_looks_where_the_scene_puts_the_concept() -> None:
    rng = np.random.default_rng(1)
    pink_shape, pink_background = Scene("circle", "pink", "blue"), Scene("square", "black", "pink")
    images = [
        render(pink_shape, 128, rng),  # pink where asked
        render(pink_background, 128, rng),  # pink background, as asked
        render(Scene("circle", "red", "blue"), 128, rng),  # red instead of pink
        render(Scene("square", "pink", "black"), 128, rng),  # pink, but as the shape instead of the background
    ]
    scenes = [pink_shape, pink_background, pink_shape, pink_background]
    assert concept_adherence(images, scenes, "pink") == 0.5
    assert concept_adherence(images[:1], [pink_shape], "circle") == 1.0
    with pytest.raises(ValueError, match="every scene must use 'pink'"):
        concept_adherence(images[:1], [Scene("circle", "red", "blue")], "pink")
    with pytest.raises(ValueError):
        adherence([], [])


def test_judge_is_fast_and_deterministic(images128: list[Image.Image]) -> None:
    sample = images128[:60]
    first = [judge(im) for im in sample]
    start = time.process_time()
    second = [judge(im) for im in sample]
    per_image = (time.process_time() - start) / len(sample)
    assert first == second
    assert per_image < 0.025, f"{per_image * 1000:.1f} ms per 128 px image"  # ~2-4 ms; loose for busy machines


def test_model_code_needs_neither_scipy_nor_the_platform() -> None:
    code = (
        "import sys, sanacloud.model.tiny.shapes, sanacloud.model.tiny.judge; "
        "bad = [m for m in sys.modules if m.split('.')[0] == 'scipy' or m.startswith(('sanacloud.platform', "
        "'sanacloud.api', 'sanacloud.workers'))]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
