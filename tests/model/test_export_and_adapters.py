"""Exports load back through diffusers with the same outputs; adapters switch on one loaded base, merged
into its weights without ever drifting from them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import SanaPipeline, SanaTransformer2DModel
from peft import LoraConfig
from peft.tuners.lora import LoraLayer
from safetensors.torch import load_file

from sanacloud.model.components import load
from sanacloud.model.registry import REGISTRY
from sanacloud.model.sampling.adapters import Adapters
from sanacloud.model.sampling.generate import generate, make_pipeline
from sanacloud.model.train.lora import add_lora, export_lora, load_lora_state_dict, lora_state_dict
from sanacloud.model.train.spec import LoraSpec
from tests.helpers.transformer import transformer_output

TINY = REGISTRY["sana-tiny"]


def randomized_lora(base: Path, seed: int, alpha: float | None = None, rank: int = 4) -> SanaTransformer2DModel:
    """The base transformer with a LoRA whose weights are random (a fresh LoRA changes nothing)."""
    transformer = load(base, TINY).transformer
    torch.manual_seed(seed)
    for param in add_lora(transformer, LoraSpec(rank=rank, alpha=alpha)):
        param.data.normal_(0, 0.05)
    return transformer.eval()


@pytest.mark.parametrize(("rank", "alpha"), [(4, 16), (8, 8), (16, 4)])
@pytest.mark.parametrize("with_metadata", [True, False], ids=["diffusers", "loader-assuming-alpha-equals-rank"])
def test_lora_export_loads_in_diffusers_with_identical_outputs(random_tiny: Path, tmp_path: Path, rank: int,
                                                               alpha: float, with_metadata: bool) -> None:
    trained = randomized_lora(random_tiny, seed=1, alpha=alpha, rank=rank)
    path = export_lora(trained, tmp_path)
    sana = load(random_tiny, TINY)
    pipe = SanaPipeline(tokenizer=sana.tokenizer, text_encoder=sana.text_encoder, vae=sana.vae,
                        transformer=sana.transformer, scheduler=None)
    pipe.load_lora_weights(path if with_metadata else load_file(path))  # a plain dict carries no metadata
    torch.testing.assert_close(transformer_output(sana.transformer), transformer_output(trained),
                               rtol=1e-4, atol=1e-5)


def test_export_leaves_the_live_adapter_that_resume_restores(random_tiny: Path, tmp_path: Path) -> None:
    trained = randomized_lora(random_tiny, seed=1, alpha=16)
    live, before = lora_state_dict(trained), transformer_output(trained)
    export_lora(trained, tmp_path)
    torch.testing.assert_close(transformer_output(trained), before, rtol=0, atol=0)
    resumed = load(random_tiny, TINY).transformer
    add_lora(resumed, LoraSpec(rank=4, alpha=16))
    load_lora_state_dict(resumed, live)  # what restore does with trainer.pt's adapter
    torch.testing.assert_close(transformer_output(resumed.eval()), before, rtol=0, atol=0)


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
    adapters_made = (("one", 1, 16.0), ("two", 2, 2.0))  # scales 4 and 0.5
    paths = {name: export_lora(randomized_lora(random_tiny, seed, alpha), tmp_path / name)
             for name, seed, alpha in adapters_made}
    expected = {name: transformer_output(randomized_lora(random_tiny, seed, alpha))
                for name, seed, alpha in adapters_made}
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
    adapters.unload("one")
    assert adapters.base_weights == {}  # the kept copies go with the last adapter
    torch.testing.assert_close(transformer_output(sana.transformer), bare, rtol=0, atol=0)
    assert pipe.transformer is sana.transformer  # the same loaded base all along


def test_a_served_adapter_is_merged_into_a_plain_transformer(random_tiny: Path, tmp_path: Path) -> None:
    path = export_lora(randomized_lora(random_tiny, seed=1, alpha=16.0), tmp_path / "one")
    sana = load(random_tiny, TINY)
    layers_before = [type(module) for module in sana.transformer.modules()]
    adapters = Adapters(make_pipeline(sana))
    adapters.load("one", path)
    adapters.activate("one")
    # The very modules of the bare base, so an adapter step costs what a base step costs.
    assert [type(module) for module in sana.transformer.modules()] == layers_before
    assert not any(isinstance(module, LoraLayer) for module in sana.transformer.modules())


def test_many_switches_leave_the_base_weights_bit_for_bit(random_tiny: Path, tmp_path: Path) -> None:
    paths = {name: export_lora(randomized_lora(random_tiny, seed, alpha), tmp_path / name)
             for name, seed, alpha in (("one", 1, 16.0), ("two", 2, 2.0))}
    sana = load(random_tiny, TINY)
    original = {key: value.clone() for key, value in sana.transformer.state_dict().items()}
    adapters = Adapters(make_pipeline(sana))
    for name, path in paths.items():
        adapters.load(name, path)
    first = {}
    for name in ("one", "two"):
        adapters.activate(name)
        first[name] = transformer_output(sana.transformer)
    for switch in range(200):
        adapters.activate(("one", "two", None)[switch % 3])
    for name in ("one", "two"):
        adapters.activate(name)
        torch.testing.assert_close(transformer_output(sana.transformer), first[name], rtol=0, atol=0)
    adapters.activate(None)
    for key, value in sana.transformer.state_dict().items():
        assert torch.equal(value, original[key]), key


def test_an_adapter_that_cannot_be_merged_is_refused_and_changes_nothing(random_tiny: Path, tmp_path: Path) -> None:
    transformer = load(random_tiny, TINY).transformer
    transformer.add_adapter(LoraConfig(r=4, target_modules=r".*\.attn1\.to_q$", lora_bias=True))
    SanaPipeline.save_lora_weights(tmp_path, transformer_lora_layers=lora_state_dict(transformer),
                                   weight_name="biased.safetensors")
    sana = load(random_tiny, TINY)
    bare = transformer_output(sana.transformer)
    adapters = Adapters(make_pipeline(sana))
    with pytest.raises(ValueError, match=r"attn1\.to_q is not a plain LoRA"):
        adapters.load("biased", tmp_path / "biased.safetensors")
    assert adapters.loaded == set()
    assert not any(isinstance(module, LoraLayer) for module in sana.transformer.modules())
    torch.testing.assert_close(transformer_output(sana.transformer), bare, rtol=0, atol=0)


def test_a_file_asking_for_an_initialisation_that_rewrites_the_base_leaves_it_alone(random_tiny: Path,
                                                                                  tmp_path: Path) -> None:
    trained = randomized_lora(random_tiny, seed=1)
    expected = transformer_output(trained)
    metadata = {"r": 4, "lora_alpha": 4, "target_modules": r".*\.attn1\.to_q$", "init_lora_weights": "pissa"}
    state = {k: v for k, v in lora_state_dict(trained).items() if ".attn1.to_q." in k}
    SanaPipeline.save_lora_weights(tmp_path, transformer_lora_layers=state, weight_name="pissa.safetensors",
                                   transformer_lora_adapter_metadata=metadata)
    sana = load(random_tiny, TINY)
    original = {key: value.clone() for key, value in sana.transformer.state_dict().items()}
    adapters = Adapters(make_pipeline(sana))
    adapters.load("pissa", tmp_path / "pissa.safetensors")  # PiSSA would subtract its init from the base
    for key, value in sana.transformer.state_dict().items():
        assert torch.equal(value, original[key]), key
    adapters.activate("pissa")
    assert not torch.equal(transformer_output(sana.transformer), expected)  # only to_q's part of the LoRA
    adapters.activate(None)
    for key, value in sana.transformer.state_dict().items():
        assert torch.equal(value, original[key]), key
