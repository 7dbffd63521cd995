"""Prompt encoding matches SanaPipeline's and is cached; model folders are checked against the registry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from transformers import ByT5Tokenizer

from sanacloud.model.components import load
from sanacloud.model.registry import REGISTRY, ModelFolderError, check_folder, get_spec
from sanacloud.model.text import COMPLEX_HUMAN_INSTRUCTION, PromptEncoder

TINY = REGISTRY["sana-tiny"]


def test_encoder_matches_sana_pipeline_and_caches(random_tiny: Path) -> None:
    sana = load(random_tiny, TINY)
    encoder = sana.prompt_encoder()
    prompts = ["a red circle on a blue background", "", "a cyan ring on a black background"]
    embeddings, mask = encoder.encode(prompts)
    assert embeddings.shape == (3, TINY.max_tokens, 64) and mask.shape == (3, TINY.max_tokens)
    reference, reference_mask, negative, _ = sana.pipeline().encode_prompt(
        prompts[0], do_classifier_free_guidance=True, negative_prompt="", max_sequence_length=TINY.max_tokens,
        complex_human_instruction=None, device=torch.device("cpu"))
    torch.testing.assert_close(embeddings[0], reference[0])
    torch.testing.assert_close(embeddings[1], negative[0])  # "" is what CFG uses as the negative
    assert torch.equal(mask[0], reference_mask[0])

    calls = []
    original = encoder._pipe.encode_prompt
    encoder._pipe.encode_prompt = lambda *a, **k: calls.append(a) or original(*a, **k)  # type: ignore[method-assign]
    again, _ = encoder.encode(prompts[::-1])
    assert calls == [] and torch.equal(again[0], embeddings[2])


def test_chi_prefix_changes_the_embedding_and_keeps_the_length(random_tiny: Path) -> None:
    sana = load(random_tiny, TINY)
    plain = PromptEncoder(sana.tokenizer, sana.text_encoder, max_tokens=32, use_chi=False)
    chi = PromptEncoder(sana.tokenizer, sana.text_encoder, max_tokens=32, use_chi=True)
    a, _ = plain.encode(["a red circle"])
    b, _ = chi.encode(["a red circle"])
    assert a.shape == b.shape == (1, 32, 64) and not torch.allclose(a, b)
    assert COMPLEX_HUMAN_INSTRUCTION[0].startswith("Given a user prompt, generate an 'Enhanced prompt'")
    assert COMPLEX_HUMAN_INSTRUCTION[-1] == "User Prompt: "
    empty_plain, _ = plain.encode([""])
    empty_chi, _ = chi.encode([""])
    torch.testing.assert_close(empty_plain, empty_chi)  # the unconditional input never gets CHI


def test_long_prompts_are_cut_to_max_tokens(random_tiny: Path) -> None:
    sana = load(random_tiny, TINY)
    embeddings, mask = sana.prompt_encoder().encode(["a red circle " * 100])
    assert embeddings.shape[1] == TINY.max_tokens and int(mask.sum()) == TINY.max_tokens
    assert len(ByT5Tokenizer()("a red circle " * 100).input_ids) > TINY.max_tokens


def test_registry_names_every_sana_release() -> None:
    assert set(REGISTRY) == {"sana-tiny", "sana-600m-512", "sana-600m-1024", "sana-1600m-1024", "sana-1600m-2048",
                             "sana-1600m-4096"}
    assert get_spec("sana-1600m-1024").transformer["num_layers"] == 20
    assert get_spec("sana-600m-1024").dtype == "float16" and get_spec("sana-1600m-4096").dtype == "bfloat16"
    assert get_spec("sana-1600m-4096").latent_size == 128
    with pytest.raises(KeyError, match="unknown model 'flux'"):
        get_spec("flux")


def test_check_folder_says_what_is_missing_or_wrong(random_tiny: Path, tmp_path: Path) -> None:
    check_folder(random_tiny, TINY)
    layers = TINY.transformer["num_layers"]
    with pytest.raises(ModelFolderError, match=rf"sana-600m-1024.*num_layers is {layers}, sana-600m-1024 has 28"):
        check_folder(random_tiny, REGISTRY["sana-600m-1024"])
    broken = tmp_path / "broken"
    shutil.copytree(random_tiny, broken)
    shutil.rmtree(broken / "vae")
    (broken / "text_encoder" / "config.json").write_text("{not json")
    config = json.loads((broken / "transformer" / "config.json").read_text())
    (broken / "transformer" / "config.json").write_text(json.dumps({**config, "caption_channels": 2304}))
    with pytest.raises(ModelFolderError) as error:
        check_folder(broken, TINY)
    message = str(error.value)
    assert "missing subfolder vae/" in message and "text_encoder/config.json is not valid JSON" in message
    assert "caption_channels is 2304, sana-tiny has 64" in message
    with pytest.raises(ModelFolderError, match="is not a folder"):
        check_folder(tmp_path / "nowhere", TINY)
