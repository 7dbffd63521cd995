"""A run started from another run's checkpoint (`init_from`): a LoRA run's adapter, and a full run's
transformer (also under ZeRO-2 and ZeRO-3), hold exactly the checkpoint's exported weights at step
0; an adapter of another rank or other targets is refused naming both; a run with a checkpoint of
its own resumes from it and ignores init_from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from diffusers import SanaTransformer2DModel
from safetensors.torch import load_file

from sanacloud.model.registry import REGISTRY
from sanacloud.model.train.checkpoint_layout import LORA_WEIGHTS, TRANSFORMER_DIR
from sanacloud.model.train.init_from import load_transformer_export
from sanacloud.model.train.loop import trainer_engine
from sanacloud.model.train.lora import add_lora, export_lora, lora_state_dict
from sanacloud.model.train.spec import LoraSpec, TrainSpec
from tests.helpers.trainer import make_spec, of_type, run_trainer

TINY = REGISTRY["sana-tiny"]
ONE_BLOCK = {**TINY.transformer, "num_layers": 1}
CPU = torch.device("cpu")


def spec(**overrides: Any) -> TrainSpec:
    fields: dict[str, Any] = {"model": "sana-tiny", "model_path": Path("base"), "data_dir": Path("data"),
                              "output_dir": Path("out"), "steps": 3, "lora": {"rank": 4}}
    return TrainSpec(**{**fields, **overrides}).for_device("cpu", TINY.dtype)


def trained_adapter(lora: LoraSpec, folder: Path) -> dict[str, torch.Tensor]:
    """An adapter with weights no fresh one has, exported into `folder`; its (unfolded) weights."""
    torch.manual_seed(0)
    transformer = SanaTransformer2DModel(**ONE_BLOCK)
    with torch.no_grad():
        for param in add_lora(transformer, lora):
            param.add_(torch.randn_like(param))
    export_lora(transformer, folder)
    return lora_state_dict(transformer)


@pytest.mark.parametrize("alpha", [None, 8.0])  # scale 1 (alpha = rank, the API's default), and 2
def test_a_lora_run_starts_with_exactly_the_checkpoints_adapter(tmp_path: Path, alpha: float | None) -> None:
    trained = trained_adapter(LoraSpec(rank=4, alpha=alpha), tmp_path)
    torch.manual_seed(1)  # another fresh adapter than the trained one's
    transformer = SanaTransformer2DModel(**ONE_BLOCK)
    params, _ = trainer_engine(spec(lora={"rank": 4, "alpha": alpha}), transformer, CPU, tmp_path)

    loaded = lora_state_dict(transformer)
    assert loaded.keys() == trained.keys()
    assert all(torch.equal(loaded[key], trained[key]) for key in trained), "not the checkpoint's weights bit for bit"
    assert all(param.requires_grad and param.dtype == torch.float32 for param in params)


def test_an_adapter_of_another_rank_or_targets_is_refused_naming_both(tmp_path: Path) -> None:
    trained_adapter(LoraSpec(rank=8, targets=["to_q", "to_k"]), tmp_path)
    with pytest.raises(ValueError, match=r"adapter of rank 8 on to_k, to_q \(4 layers\); this run's LoRA is of "
                                         r"rank 4 on to_k, to_q, to_v \(6 layers\)"):
        trainer_engine(spec(lora={"rank": 4, "targets": ["to_q", "to_k", "to_v"]}),
                       SanaTransformer2DModel(**ONE_BLOCK), CPU, tmp_path)


def test_a_checkpoint_without_the_runs_kind_of_weights_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=f"no {LORA_WEIGHTS}: a LoRA run starts from a LoRA run's"):
        trainer_engine(spec(), SanaTransformer2DModel(**ONE_BLOCK), CPU, tmp_path)
    trained_adapter(LoraSpec(rank=4), tmp_path)
    with pytest.raises(FileNotFoundError, match="a full run starts from a full run's checkpoint"):
        load_transformer_export(SanaTransformer2DModel(**ONE_BLOCK), tmp_path / TRANSFORMER_DIR)


def full_checkpoint(base: Path, folder: Path) -> dict[str, torch.Tensor]:
    """A full run's checkpoint in `folder`: the base transformer with every weight moved; its weights."""
    transformer = SanaTransformer2DModel.from_pretrained(base / "transformer")
    with torch.no_grad():
        for param in transformer.parameters():
            param.add_(torch.randn_like(param) * 0.01)
    transformer.save_pretrained(folder / TRANSFORMER_DIR, safe_serialization=True)
    return load_file(folder / TRANSFORMER_DIR / "diffusion_pytorch_model.safetensors")


def test_a_full_transformer_of_another_architecture_is_refused(random_tiny: Path, tmp_path: Path) -> None:
    full_checkpoint(random_tiny, tmp_path)
    with pytest.raises(ValueError, match="its transformer is not this base model's architecture"):
        load_transformer_export(SanaTransformer2DModel(**ONE_BLOCK), tmp_path / TRANSFORMER_DIR)


# In a process of its own: DeepSpeed's engine (a process group, ZeRO-3's partitioning), with the
# transformer's weights compared once gathered.
ZERO_ENGINE_HOLDS = """
import sys
from pathlib import Path
import torch
from safetensors.torch import load_file
from sanacloud.model.components import load
from sanacloud.model.registry import REGISTRY
from sanacloud.model.train.checkpoint_layout import TRANSFORMER_DIR
from sanacloud.model.train.loop import trainer_engine
from sanacloud.model.train.spec import TrainSpec
from sanacloud.model.train.zero import init_distributed

spec = TrainSpec.model_validate_json(Path(sys.argv[1]).read_text()).for_device("cpu", "float32")
init_distributed(torch.device("cpu"))
sana = load(spec.model_path, REGISTRY["sana-tiny"], dtype=torch.float32)
_, engine = trainer_engine(spec, sana.transformer, torch.device("cpu"), spec.init_from)
expected = load_file(spec.init_from / TRANSFORMER_DIR / "diffusion_pytorch_model.safetensors")
with engine.gathered():
    held = {name: param.detach().clone() for name, param in engine.module.named_parameters()}
print("same" if held.keys() == expected.keys() and all(torch.equal(held[k], v) for k, v in expected.items())
      else "differ")
"""


@pytest.mark.parametrize("stage", [2, 3])
def test_a_full_run_starts_with_exactly_the_checkpoints_transformer_under_zero(
        random_tiny: Path, shapes_data: Path, tmp_path: Path, stage: int) -> None:
    full_checkpoint(random_tiny, tmp_path / "init")
    run = make_spec(random_tiny, shapes_data, tmp_path / "run", type="full", deepspeed={"zero_stage": stage},
                    init_from=tmp_path / "init")
    path = tmp_path / "spec.json"
    path.write_text(run.model_dump_json())
    result = subprocess.run([sys.executable, "-c", ZERO_ENGINE_HOLDS, str(path)], capture_output=True, text=True,
                            timeout=240, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.stdout.strip().splitlines()[-1:] == ["same"], result.stderr[-3000:]


def test_a_run_starts_from_init_from_until_it_has_a_checkpoint_of_its_own(
        random_tiny: Path, shapes_data: Path, tmp_path: Path) -> None:
    common = {"lora": {"rank": 4}, "cache_dir": tmp_path / "cache"}
    source = run_trainer(make_spec(random_tiny, shapes_data, tmp_path / "source", steps=2, **common))
    checkpoint = Path(of_type(source, "checkpoint")[-1]["path"])

    started = make_spec(random_tiny, shapes_data, tmp_path / "new", steps=1, init_from=checkpoint, **common)
    first = run_trainer(started)
    assert of_type(first, "start")[0]["initialized_from"] == str(checkpoint)
    # The same seed and data as the source's first step, so only the weights make the loss differ.
    assert of_type(first, "step")[0]["loss"] != of_type(source, "step")[0]["loss"]

    again = run_trainer(started.model_copy(update={"steps": 2}))  # resumes from its own checkpoint at step 1
    assert of_type(again, "resumed")[0]["step"] == 1
    assert of_type(again, "start")[0]["initialized_from"] is None
