"""The captioning child with real transformers models: a tiny random BLIP captions and a tiny random
CLIP scores, both built here from configs and hand-written vocabularies (nothing is downloaded).
Random weights write arbitrary words, so the tests check that captions are produced, decoded and
scored, not what they say."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from sanacloud.model.captioning import run as captioning
from sanacloud.model.captioning.base import Captioner, check_folder, load_captioner
from sanacloud.model.tiny.shapes import ALL_COLORS, write_dataset

WORDS = ["a", "red", "blue", "circle", "square", "on", "background", "photo", "of", "cat"]
SMALL = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}
USER_CAPTION = "a photo of a cat"
IMAGES = ["0000.png", "0001.png", "0002.png", "0003.png"]
ODD = "0002.png"  # written at another size: the failing captioner below fails on it


def _bytes_to_unicode() -> list[str]:
    """GPT-2's byte -> printable character table, which CLIP's byte-level BPE vocabulary uses."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = [b for b in range(256) if b not in keep]
    return [chr(b) for b in keep] + [chr(256 + n) for n in range(len(extra))]


def build_blip(folder: Path) -> None:
    import torch
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

    folder.mkdir()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"]
    (folder / "vocab.txt").write_text("\n".join(specials + WORDS) + "\n")
    tokenizer = BertTokenizer(str(folder / "vocab.txt"), bos_token="[DEC]")
    text = {**SMALL, "vocab_size": len(specials) + len(WORDS), "encoder_hidden_size": 32, "max_position_embeddings": 64,
            "pad_token_id": 0, "bos_token_id": 5, "sep_token_id": 3, "eos_token_id": 3}
    config = BlipConfig(vision_config={**SMALL, "image_size": 32, "patch_size": 8}, text_config=text, projection_dim=32)
    torch.manual_seed(0)
    BlipForConditionalGeneration(config).save_pretrained(folder)
    BlipProcessor(BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer).save_pretrained(folder)


def build_clip(folder: Path) -> None:
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    folder.mkdir()
    chars = _bytes_to_unicode()
    vocab = chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")  # no merges: every character is a token
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    n = len(vocab)
    text = {**SMALL, "vocab_size": n, "max_position_embeddings": 32, "bos_token_id": n - 2, "eos_token_id": n - 1,
            "pad_token_id": n - 1}
    config = CLIPConfig(text_config=text, vision_config={**SMALL, "image_size": 32, "patch_size": 8}, projection_dim=16)
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(folder)
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor, tokenizer).save_pretrained(folder)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("models")
    build_blip(root / "blip")
    build_clip(root / "clip")
    return root / "blip", root / "clip"


@pytest.fixture
def images(tmp_path: Path) -> Path:
    """Four scenes, the first with a user caption, one of another size."""
    folder = tmp_path / "images"
    write_dataset(folder, len(IMAGES), 48, seed=3, colors=ALL_COLORS)
    Image.open(folder / ODD).resize((40, 40)).save(folder / ODD)
    (folder / "metadata.jsonl").write_text(json.dumps({"file_name": IMAGES[0], "text": USER_CAPTION}) + "\n")
    return folder


def spec(data: Path, models: tuple[Path, Path], **overrides: Any) -> dict[str, Any]:
    blip, clip = models
    return {"data_dir": str(data), "captioners": [{"source": "blip", "family": "transformers", "path": str(blip)}],
            "scorer": {"source": "clip", "family": "transformers", "path": str(clip)}, "batch_size": 3,
            "device": "cpu", **overrides}


def run_child(tmp_path: Path, body: dict[str, Any]) -> tuple[int, list[dict[str, Any]], str]:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(body))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    done = subprocess.run([sys.executable, "-m", "sanacloud.model.captioning", "--spec", str(path)],
                          capture_output=True, text=True, env=env, timeout=240)
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done.returncode, events, done.stderr


def in_process(body: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    capsys.readouterr()
    captioning.run(captioning.CaptionSpec.model_validate(body))
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in events if event["type"] == kind]


def test_the_child_captions_and_scores_every_image(tmp_path: Path, images: Path, models: tuple[Path, Path]) -> None:
    body = spec(images, models)
    body["captioners"].append({"source": "tiny", "family": "sana-tiny-judge", "path": None})
    code, events, stderr = run_child(tmp_path, body)
    assert code == 0, (events[-3:], stderr[-3000:])
    assert events[0] | {"time": 0} == {"type": "start", "time": 0, "images": 4, "skipped": 0,
                                       "captioners": ["blip", "tiny"]}
    results = {e["file"]: {c["source"]: c for c in e["captions"]} for e in of_type(events, "captions")}
    assert sorted(results) == IMAGES
    for name, captions in results.items():
        assert {"blip", "tiny"} <= set(captions), captions
        assert isinstance(captions["blip"]["text"], str) and captions["blip"]["text"].strip()
        assert "[SEP]" not in captions["blip"]["text"] and "[DEC]" not in captions["blip"]["text"]
        assert all(isinstance(c["score"], float) and 0 <= c["score"] <= 100 for c in captions.values()), captions
        assert ("user" in captions) == (name == IMAGES[0])
    assert results[IMAGES[0]]["user"]["text"] == USER_CAPTION
    progress = of_type(events, "progress")
    assert progress[-1] | {"time": 0} == {"type": "progress", "time": 0, "done": 4, "total": 4}
    assert [e["done"] for e in progress] == [1, 2, 3, 4]
    assert events[-1]["type"] == "done" and events[-1]["captioned"] == 4 and events[-1]["failed"] == 0


class FailsOnOdd:
    """A captioner that fails on any image of the odd size, as a model might on one bad image."""

    def __init__(self, inner: Captioner) -> None:
        self.inner = inner

    def caption(self, images: Sequence[Image.Image]) -> list[str]:
        if any(image.size == (40, 40) for image in images):
            raise RuntimeError("cannot read this one")
        return self.inner.caption(images)


def test_a_failing_image_is_reported_and_the_others_captioned(
        images: Path, models: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    def load(family: str, path: Path | None, device: str) -> Captioner:
        captioner = load_captioner(family, path, device)
        return FailsOnOdd(captioner) if family == "transformers" else captioner

    monkeypatch.setattr(captioning, "load_captioner", load)
    body = spec(images, models)
    body["captioners"].append({"source": "tiny", "family": "sana-tiny-judge", "path": None})
    events = in_process(body, capsys)
    (failed,) = of_type(events, "caption_failed")
    assert failed | {"time": 0} == {"type": "caption_failed", "time": 0, "file": ODD, "source": "blip",
                                    "message": "RuntimeError: cannot read this one"}
    results = {e["file"]: {c["source"] for c in e["captions"]} for e in of_type(events, "captions")}
    assert results[ODD] == {"tiny"}
    assert all("blip" in sources for name, sources in results.items() if name != ODD)
    assert events[-1] | {"time": 0} == {"type": "done", "time": 0, "captioned": 4, "failed": 1}


def test_skipped_images_are_not_captioned_again(images: Path, models: tuple[Path, Path],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    events = in_process(spec(images, models, skip=IMAGES[:3], scorer=None), capsys)
    assert events[0]["images"] == 1 and events[0]["skipped"] == 3
    (only,) = of_type(events, "captions")
    assert only["file"] == IMAGES[3] and only["captions"][0]["score"] is None
    progress = of_type(events, "progress")
    assert (progress[0]["done"], progress[-1]["done"], progress[-1]["total"]) == (4, 4, 4), "skipped count as done"


def test_sigterm_stops_after_the_current_batch(images: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    class StopsItself:
        def caption(self, pixels: Sequence[Image.Image]) -> list[str]:
            os.kill(os.getpid(), signal.SIGTERM)
            return ["a caption"] * len(pixels)

    monkeypatch.setattr(captioning, "load_captioner", lambda *_: StopsItself())
    body = {"data_dir": str(images), "captioners": [{"source": "s", "family": "sana-tiny-judge"}], "batch_size": 2}
    events = in_process(body, capsys)
    assert len(of_type(events, "captions")) == 2
    assert events[-1] | {"time": 0} == {"type": "stopped", "time": 0, "reason": "SIGTERM", "checkpointed": True,
                                        "done": 2}


def test_an_unknown_family_or_an_incomplete_folder_is_a_clear_error(
        tmp_path: Path, images: Path, models: tuple[Path, Path]) -> None:
    code, events, _ = run_child(tmp_path, {"data_dir": str(images),
                                           "captioners": [{"source": "x", "family": "gpt", "path": None}]})
    assert code == 1 and events[-1]["type"] == "error"
    assert "unknown captioner family 'gpt'; known: sana-tiny-judge, transformers" in events[-1]["message"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"lacks config.json, weights .*, an image processor"):
        check_folder(empty)
    with pytest.raises(ValueError, match="does not exist"):
        load_captioner("transformers", tmp_path / "nowhere", "cpu")
    with pytest.raises(ValueError, match="needs a model folder"):
        load_captioner("transformers", None, "cpu")
    code, events, _ = run_child(tmp_path, {"data_dir": str(images), "captioners": [], "extra": 1})
    assert code == 2 and events[-1]["type"] == "error" and "invalid spec" in events[-1]["message"]
