"""Exports load back through diffusers with the same outputs; adapters switch on one loaded base."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from diffusers import SanaPipeline, SanaTransformer2DModel

from sanacloud.model.components import load
from sanacloud.model.registry import REGISTRY
from sanacloud.model.sampling.adapters import Adapters
from sanacloud.model.sampling.generate import generate, make_pipeline
from sanacloud.model.train.lora import add_lora, export_lora
from sanacloud.model.train.spec import LoraSpec
from tests.model.test_train import transformer_output

TINY = REGISTRY["sana-tiny"]


def randomized_lora(base: Path, seed: int) -> SanaTransformer2DModel:
    """The base transformer with a LoRA whose weights are random (a fresh LoRA changes nothing)."""
    transformer = load(base, TINY).transformer
    torch.manual_seed(seed)
    for param in add_lora(transformer, LoraSpec(rank=4)):
        param.data.normal_(0, 0.05)
    return transformer.eval()


def test_lora_export_loads_in_diffusers_with_identical_outputs(random_tiny: Path, tmp_path: Path) -> None:
    trained = randomized_lora(random_tiny, seed=1)
    path = export_lora(trained, tmp_path)
    sana = load(random_tiny, TINY)
    pipe = SanaPipeline(tokenizer=sana.tokenizer, text_encoder=sana.text_encoder, vae=sana.vae,
                        transformer=sana.transformer, scheduler=None)
    pipe.load_lora_weights(path)
    torch.testing.assert_close(transformer_output(sana.transformer), transformer_output(trained))


def test_full_export_is_a_diffusers_folder_with_identical_outputs(random_tiny: Path, tmp_path: Path) -> None:
    sana = load(random_tiny, TINY)
    with torch.no_grad():
        for param in sana.transformer.parameters():
            param.add_(torch.randn_like(param) * 0.01)
    sana.save(tmp_path / "finetuned")
    reloaded = SanaPipeline.from_pretrained(tmp_path / "finetuned", local_files_only=True)
    torch.testing.assert_close(transformer_output(reloaded.transformer), transformer_output(sana.transformer))
    ours = generate(make_pipeline(sana), sana, ["a red circle on a blue background"], seeds=[4], steps=3)
    theirs = load(tmp_path / "finetuned", TINY)
    again = generate(make_pipeline(theirs), theirs, ["a red circle on a blue background"], seeds=[4], steps=3)
    assert np.array_equal(np.asarray(ours[0]), np.asarray(again[0]))


def test_adapters_switch_and_unload_without_reloading_the_base(random_tiny: Path, tmp_path: Path) -> None:
    paths = {name: export_lora(randomized_lora(random_tiny, seed), tmp_path / name)
             for name, seed in (("one", 1), ("two", 2))}
    expected = {name: transformer_output(randomized_lora(random_tiny, seed)) for name, seed in (("one", 1), ("two", 2))}
    sana = load(random_tiny, TINY)
    bare = transformer_output(sana.transformer)
    pipe = make_pipeline(sana)
    adapters = Adapters(pipe)
    for name in ("one", "two"):
        adapters.load(name, paths[name])
    for name in ("one", "two", "one"):
        adapters.activate(name)
        torch.testing.assert_close(transformer_output(sana.transformer), expected[name], rtol=1e-4, atol=1e-5)
    adapters.activate(None)
    torch.testing.assert_close(transformer_output(sana.transformer), bare)
    adapters.activate("two")
    adapters.unload("two")
    assert adapters.active is None and adapters.loaded == {"one"}
    torch.testing.assert_close(transformer_output(sana.transformer), bare)
    assert pipe.transformer is sana.transformer  # the same loaded base all along
