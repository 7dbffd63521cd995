"""sana-tiny's model card: its diffusers call, run as the card writes it (so `from_pretrained` on
the weights folder, card included), draws the colours the prompts ask for."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from sanacloud.model.tiny import WEIGHTS
from sanacloud.model.tiny.judge import adherence, judge
from sanacloud.model.tiny.shapes import EVAL_SCENES

CARD = WEIGHTS / "README.md"
SCENES = EVAL_SCENES[::3]  # 8 prompts: every base colour, as a shape and as a background


def documented_code() -> str:
    blocks = re.findall(r"^```python\n(.*?)^```", CARD.read_text(), flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) == 1, "the card shows one Python example"
    return str(blocks[0])


def image_statement(code: str) -> ast.Module:
    """The card's `image = pipe(prompt, ...)` statement, to run again for other prompts and seeds."""
    drawn = [s for s in ast.parse(code).body
             if isinstance(s, ast.Assign) and [ast.unparse(t) for t in s.targets] == ["image"]]
    assert len(drawn) == 1, "the card assigns `image` once"
    return ast.Module(body=drawn, type_ignores=[])


@pytest.fixture
def repository_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory laid out like the repository's root, so the card's image lands here."""
    (tmp_path / "model" / "tiny").mkdir(parents=True)
    (tmp_path / "model" / "tiny" / "weights").symlink_to(WEIGHTS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_cards_diffusers_call_draws_the_prompted_colours(repository_root: Path) -> None:
    code = documented_code()
    namespace: dict[str, Any] = {}
    exec(compile(code, str(CARD), "exec"), namespace)
    verdict = judge(Image.open(repository_root / "sana-tiny.png"))
    assert (verdict.background, verdict.color) == ("blue", "red"), verdict  # "a red circle on a blue background"

    draw = compile(image_statement(code), str(CARD), "exec")
    images = []
    for scene in SCENES:
        namespace.update(prompt=scene.caption, seed=0)
        exec(draw, namespace)
        images.append(namespace["image"])
    result = adherence(images, SCENES)
    # Measured: background 1.00, colour 1.00, shape 0.75 (two of its prompts ask for squares).
    assert result["background"] >= 0.85 and result["color"] >= 0.85 and result["shape"] >= 0.5, result


def test_the_card_has_hugging_face_metadata() -> None:
    front_matter = yaml.safe_load(CARD.read_text().split("---\n")[1])
    assert front_matter["library_name"] == "diffusers" and front_matter["pipeline_tag"] == "text-to-image"
    assert front_matter["license"]
