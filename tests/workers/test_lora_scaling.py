"""A LoRA trained with alpha != rank is the same model in its checkpoint's sample, at our endpoint
and in plain diffusers.

The real trainer fits a LoRA (high learning rate, few steps) to pink circles on blue, so that its
sample draws a pink circle where the base draws an empty background; a wrong scaling (what an
adapter loaded with alpha = rank gave before exports folded the scaling in) visibly changes the
image, so these tests cannot pass vacuously. Images agree to max |Δ| <= 1 of 255: folding
alpha / rank into lora_B rounds differently from scaling lora_B's output (measured: 1, on a few
pixels out of 49,152 channel values).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import SanaPipeline
from fastapi.testclient import TestClient
from PIL import Image
from safetensors.torch import load_file

from sanacloud.model.tiny import WEIGHTS
from sanacloud.model.tiny.config import SPEC
from sanacloud.model.tiny.judge import judge
from sanacloud.model.tiny.shapes import write_dataset
from sanacloud.model.train import checkpoints
from sanacloud.model.train.checkpoint_layout import LORA_WEIGHTS
from tests.helpers.backends import TenantCtx
from tests.helpers.serving import finished_job_checkpoint, pixels, promoted_endpoint, serve
from tests.helpers.trainer import make_spec, run_trainer

PROMPT = "a pink circle on a blue background"
SEED, STEPS, GUIDANCE = 0, 20, 4.5
ROUNDING = 1  # max |Δ| of 255 between two renderings of the same model
Training = tuple[int, float, float | None]  # (rank, alpha, EMA decay)
# Scales 4, 1 and 0.25; the EMA run exports (and samples) its average.
TRAININGS: list[Training] = [(4, 16.0, 0.9), (8, 8.0, None), (16, 4.0, None)]


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[Training, Path]:
    """The newest checkpoint folder of each training run (the runs go side by side)."""
    root = tmp_path_factory.mktemp("lora-scaling")
    data = root / "data"
    write_dataset(data, 16, 128, seed=1, colors=("pink", "blue"), shapes=("circle",))
    specs = {(rank, alpha, ema): make_spec(
        WEIGHTS, data, root / f"rank{rank}-alpha{alpha}-ema{ema}", steps=30, batch_size=8, learning_rate=3e-3,
        caption_dropout=0.0, lora={"rank": rank, "alpha": alpha}, ema_decay=ema, validation_prompts=[PROMPT],
        validation_seed=SEED, validation_steps=STEPS, guidance_scale=GUIDANCE, log_every=10)
        for rank, alpha, ema in TRAININGS}
    with ThreadPoolExecutor(len(specs)) as pool:
        list(pool.map(run_trainer, specs.values()))
    return {training: checkpoints.completed(spec.output_dir)[-1][1] for training, spec in specs.items()}


def sample_of(checkpoint: Path) -> np.ndarray:
    return np.asarray(Image.open(checkpoint / "samples" / "00.png").convert("RGB"), dtype=int)


def draw(pipe: SanaPipeline) -> np.ndarray:
    """The checkpoint's sample request, as a diffusers user writes it for sana-tiny."""
    image = pipe(PROMPT, num_inference_steps=STEPS, guidance_scale=GUIDANCE, height=128, width=128,
                 generator=torch.Generator().manual_seed(SEED), complex_human_instruction=None,
                 use_resolution_binning=False, max_sequence_length=SPEC.max_tokens).images[0]
    return np.asarray(image, dtype=int)


def max_delta(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a - b).max())


@pytest.mark.parametrize(("rank", "alpha", "ema"), TRAININGS)
def test_plain_diffusers_draws_the_checkpoints_sample(trained: dict[Training, Path], rank: int, alpha: float,
                                                      ema: float | None) -> None:
    checkpoint = trained[(rank, alpha, ema)]
    sample = sample_of(checkpoint)
    pipe = SanaPipeline.from_pretrained(WEIGHTS)
    pipe.set_progress_bar_config(disable=True)
    base = draw(pipe)
    pipe.load_lora_weights(checkpoint, adapter_name="exported")
    assert max_delta(draw(pipe), sample) <= ROUNDING
    pipe.delete_adapters(["exported"])
    pipe.load_lora_weights(load_file(checkpoint / LORA_WEIGHTS), adapter_name="no-metadata")
    assert max_delta(draw(pipe), sample) <= ROUNDING  # a loader that assumes alpha = rank

    # Not vacuous: the LoRA draws the pink circle the base cannot, and a wrong scale shows.
    assert (judge(sample.astype(np.uint8)).color, judge(base.astype(np.uint8)).color) == ("pink", None)
    assert np.abs(sample - base).mean() > 5
    if alpha != rank:
        pipe.set_adapters(["no-metadata"], adapter_weights=[rank / alpha])  # alpha = rank on unfolded weights
        assert np.abs(draw(pipe) - sample).mean() > 5


@pytest.mark.usefixtures("worker_settings", "cache")
@pytest.mark.parametrize(("rank", "alpha", "ema"), TRAININGS)
def test_the_endpoint_draws_the_checkpoints_sample(client: TestClient, tenant: TenantCtx,
                                                   trained: dict[Training, Path], rank: int, alpha: float,
                                                   ema: float | None) -> None:
    checkpoint = trained[(rank, alpha, ema)]
    stored = finished_job_checkpoint(tenant, "lora", {LORA_WEIGHTS: (checkpoint / LORA_WEIGHTS).read_bytes()})
    endpoint_id = promoted_endpoint(client, tenant, stored)
    done = serve(client, tenant, endpoint_id, prompt=PROMPT, seed=SEED, steps=STEPS, guidance=GUIDANCE,
                 resolution=128, sampler="dpm")
    assert max_delta(pixels(client, done["image_urls"][0]), sample_of(checkpoint)) <= ROUNDING
