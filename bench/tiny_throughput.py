"""CPU throughput of sana-tiny: a training step (LoRA and full) and a 20-step generation.

    python bench/tiny_throughput.py [--weights model/tiny/weights] [--threads N]

Prints one JSON object per measurement (also to $OUT/results.jsonl when OUT is set). The
baseline in the same run is diffusers itself: the same transformer step without our trainer
around it, and SanaPipeline called directly, so the ratio shows what our code adds.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from jsonl import emit  # bench/jsonl.py, beside this file

from sanacloud.model import flow
from sanacloud.model.components import load
from sanacloud.model.registry import REGISTRY
from sanacloud.model.sampling.generate import generate, make_pipeline
from sanacloud.model.tiny import WEIGHTS
from sanacloud.model.train.lora import add_lora
from sanacloud.model.train.spec import LoraSpec

SPEC = REGISTRY["sana-tiny"]


def seconds(fn: Callable[[], object], warm: int = 2, iters: int = 5) -> float:
    for _ in range(warm):
        fn()
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - start) / iters


def train_step(weights: Path, kind: str, batch: int) -> None:
    sana = load(weights, SPEC, dtype=torch.float32)
    transformer = sana.transformer.train()
    if kind == "lora":
        params = add_lora(transformer, LoraSpec(rank=16))
    else:
        transformer.requires_grad_(True)
        params = list(transformer.parameters())
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    x0 = torch.randn(batch, 32, SPEC.latent_size, SPEC.latent_size)
    text, mask = sana.prompt_encoder().encode(["a red circle on a blue background"] * batch)

    def step() -> None:
        noise = torch.randn_like(x0)
        sigmas = flow.sample_sigmas(batch, shift=SPEC.flow_shift)
        prediction = transformer(flow.noisy(x0, noise, sigmas), encoder_hidden_states=text,
                                 encoder_attention_mask=mask, timestep=sigmas * 1000, return_dict=False)[0]
        F.mse_loss(prediction, flow.velocity_target(x0, noise)).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    s = seconds(step)
    emit(kind="train_step", model="sana-tiny", mode=kind, batch=batch, step_s=round(s, 4),
         samples_per_s=round(batch / s, 1), trainable=sum(p.numel() for p in params))


def generation(weights: Path, steps: int) -> None:
    sana = load(weights, SPEC, dtype=torch.float32)
    pipe = make_pipeline(sana)
    prompt = "a red circle on a blue background"
    ours = seconds(lambda: generate(pipe, sana, [prompt], seeds=[0], steps=steps), warm=1, iters=5)
    direct = seconds(lambda: pipe(prompt=prompt, num_inference_steps=steps, height=SPEC.resolution,
                                  width=SPEC.resolution, max_sequence_length=SPEC.max_tokens,
                                  complex_human_instruction=None, output_type="pil",
                                  use_resolution_binning=False), warm=1, iters=5)
    emit(kind="generate", model="sana-tiny", steps=steps, resolution=SPEC.resolution, latency_s=round(ours, 4),
         sana_pipeline_s=round(direct, 4), ratio=round(ours / direct, 3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", type=Path, default=WEIGHTS)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    emit(kind="env", torch=torch.__version__, threads=args.threads, cpu=os.cpu_count())
    with torch.no_grad():
        generation(args.weights, steps=20)
    train_step(args.weights, "lora", batch=16)
    train_step(args.weights, "full", batch=16)


if __name__ == "__main__":
    main()
