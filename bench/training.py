"""Training throughput: the trainer's step against a plain diffusers-style loop, side by side in one
process, on the same model, batch and precision.

    python bench/training.py --model sana-tiny --steps 5                        # CPU, under a minute
    python bench/training.py --model sana-1600m-1024 --batch 8 --steps 30      # a GPU, random weights

The transformer is built from its registry config with random weights, and latents and text
embeddings are random tensors of the model's shapes (resolution // 32 latents, max_tokens text
tokens): a step's speed does not depend on their values, so no VAE or text encoder is loaded.
Precision `auto` is the trainer's rule: the checkpoint's dtype on a GPU (fp16 for the 1024px
models), fp32 on a CPU. Each variant (lora: an adapter of --lora-rank on the default targets;
full: every parameter) runs two loops:

  diffusers   as diffusers' train_dreambooth_lora_sana.py and train_text_to_image.py step: fp32
              master weights (LoRA: the frozen base in the precision's dtype, as the LoRA script),
              torch.autocast, a GradScaler for fp16, plain torch.optim.AdamW, grad clipping,
              loss.item() every step, no compile. (Its timesteps are drawn on the device, without
              the script's per-sample index lookups, which would only slow it down.)
  sanacloud   the trainer's own code (model/train/loop.py: trainer_engine + optimizer_step) with the
              spec decided for the device as a run's is: fused AdamW, TF32, torch.compile on CUDA
              (--compile), nothing read back per step; full training through DeepSpeed ZeRO-2.

Prints one JSON object per line (appended to $OUT/results.jsonl too when OUT is set; `main` returns them):

  kind=env       torch, device, threads
  kind=loop      variant, loop, model, batch, resolution, precision, compile (sanacloud only),
                 trainable_params, steps (timed, after --warmup untimed steps: compiling happens
                 there), step_s (seconds per optimizer step), samples_per_s (batch / step_s),
                 final_loss (the last step's, to see both loops train), peak_memory_mb (CUDA:
                 torch.cuda.max_memory_allocated over the loop; CPU: the process's peak RSS over
                 the loop, its high-water mark reset first, so it includes the interpreter and torch)
  kind=compare   variant, speedup (sanacloud samples/s over diffusers'), memory_ratio (sanacloud
                 peak memory over diffusers')
"""

from __future__ import annotations

import argparse
import gc
import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import jsonl  # bench/jsonl.py, beside this file
import torch
import torch.nn.functional as F
from diffusers import SanaTransformer2DModel

from sanacloud.model import flow
from sanacloud.model.data.training import TrainingBatch
from sanacloud.model.registry import REGISTRY, ModelSpec
from sanacloud.model.train.engine import AUTOCAST, allow_fast_cuda_math
from sanacloud.model.train.loop import MicroBatch, optimizer_step, trainer_engine
from sanacloud.model.train.lora import add_lora
from sanacloud.model.train.spec import LoraSpec, TrainSpec

Variant = Literal["lora", "full"]
LEARNING_RATE = {"lora": 1e-4, "full": 2e-5}  # the platform's defaults (api/jobs/hyperparameters.py)
MAX_GRAD_NORM = {"lora": 1.0, "full": 0.1}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="sana-tiny", choices=sorted(REGISTRY))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=10, help="timed optimizer steps per loop")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (compiling, allocator)")
    parser.add_argument("--resolution", type=int, default=None, help="default: the model's native")
    parser.add_argument("--lora-rank", type=int, default=16)
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "fp16", "bf16"])
    parser.add_argument("--compile", default="auto", choices=["auto", "on", "off"], help="the trainer's loop only")
    parser.add_argument("--gradient-checkpointing", action="store_true", help="in both loops")
    parser.add_argument("--variants", default="lora,full", help="comma-separated: lora, full")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        allow_fast_cuda_math()  # the baseline gets TF32 too: the comparison is of the loops
    model = REGISTRY[args.model]
    records = [emit({"kind": "env", "torch": torch.__version__, "device": _device_name(device),
                     "threads": args.threads})]
    for variant in args.variants.split(","):
        records += compare(args, model, variant, device)  # type: ignore[arg-type]
    return records


def compare(args: argparse.Namespace, model: ModelSpec, variant: Variant, device: torch.device) -> list[dict[str, Any]]:
    """Both loops of one variant, then how they compare."""
    spec = trainer_spec(args, model, variant, device)
    resolution = args.resolution or model.resolution
    inputs = random_inputs(model, args.batch, resolution, device)
    common = {"kind": "loop", "variant": variant, "model": model.name, "batch": args.batch,
              "resolution": resolution, "precision": spec.mixed_precision}
    baseline = emit({**common, "loop": "diffusers",
                     **measure(lambda: diffusers_loop(model, spec, inputs, device), args, device)})
    ours = emit({**common, "loop": "sanacloud", "compile": spec.compile,
                 **measure(lambda: sanacloud_loop(model, spec, inputs, device), args, device)})
    return [baseline, ours, emit({"kind": "compare", "variant": variant,
                                  "speedup": round(ours["samples_per_s"] / baseline["samples_per_s"], 3),
                                  "memory_ratio": round(ours["peak_memory_mb"] / baseline["peak_memory_mb"], 3)})]


def emit(record: dict[str, Any]) -> dict[str, Any]:
    jsonl.emit(**record)
    return record


def trainer_spec(args: argparse.Namespace, model: ModelSpec, variant: Variant, device: torch.device) -> TrainSpec:
    """The spec a run of this variant would train with, decided for the device as the trainer does;
    its paths are never read (the benchmark feeds tensors)."""
    spec = TrainSpec(model=model.name, model_path=Path("unused"), data_dir=Path("unused"), output_dir=Path("unused"),
                     type=variant, steps=args.warmup + args.steps, batch_size=args.batch,
                     learning_rate=LEARNING_RATE[variant], max_grad_norm=MAX_GRAD_NORM[variant],
                     lora=LoraSpec(rank=args.lora_rank), mixed_precision=args.precision,
                     gradient_checkpointing=args.gradient_checkpointing,
                     compile={"auto": "auto", "on": True, "off": False}[args.compile])
    return spec.for_device(device.type, model.dtype)


def random_inputs(model: ModelSpec, batch: int, resolution: int, device: torch.device) -> TrainingBatch:
    generator = torch.Generator(device=device).manual_seed(0)
    side, config = resolution // 32, model.transformer
    return TrainingBatch(
        torch.randn(batch, config["in_channels"], side, side, generator=generator, device=device),  # (B,C,h,w)
        torch.randn(batch, model.max_tokens, config["caption_channels"], generator=generator, device=device),
        torch.ones(batch, model.max_tokens, device=device))  # (B,L): every token attended


def random_transformer(model: ModelSpec, spec: TrainSpec, device: torch.device) -> SanaTransformer2DModel:
    torch.manual_seed(0)
    with device:  # initialised where it trains: a 1.6B model initialised on a CPU takes long
        transformer = SanaTransformer2DModel(**model.transformer)
    if spec.gradient_checkpointing:
        transformer.enable_gradient_checkpointing()
    return transformer.train()


Step = Callable[[], float | torch.Tensor]  # one optimizer step; its loss (a tensor: not read yet)


def diffusers_loop(model: ModelSpec, spec: TrainSpec, inputs: TrainingBatch,
                   device: torch.device) -> tuple[int, Step]:
    """The trainable parameter count and the step of a plain diffusers-style loop."""
    transformer = random_transformer(model, spec, device)
    dtype = AUTOCAST.get(spec.mixed_precision)
    if spec.type == "lora":
        if dtype is not None:
            transformer.to(dtype)  # weight_dtype: the frozen base needs no fp32 copy
        params = add_lora(transformer, spec.lora)  # add_adapter, then the adapter cast to fp32
    else:
        params = list(transformer.parameters())
    optimizer = torch.optim.AdamW(params, lr=spec.learning_rate, weight_decay=spec.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=spec.mixed_precision == "fp16")
    x0, text, mask = inputs

    def step() -> float:
        noise = torch.randn_like(x0)
        sigmas = flow.sample_sigmas(len(x0), shift=model.flow_shift, device=device)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            prediction = transformer(flow.noisy(x0, noise, sigmas), encoder_hidden_states=text,
                                     encoder_attention_mask=mask, timestep=sigmas * flow.TIMESTEP_SCALE,
                                     return_dict=False)[0]
        loss = F.mse_loss(prediction.float(), flow.velocity_target(x0, noise))
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(params, spec.max_grad_norm)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad()
        return loss.item()  # the scripts log it every step

    return sum(p.numel() for p in params), step


def sanacloud_loop(model: ModelSpec, spec: TrainSpec, inputs: TrainingBatch,
                   device: torch.device) -> tuple[int, Step]:
    """The trainable parameter count and the trainer's own optimizer step."""
    transformer = random_transformer(model, spec, device)
    if spec.type == "full":
        from sanacloud.model.train.zero import init_distributed

        init_distributed(device)  # one process with a file rendezvous, as a one-GPU full run
    params, engine = trainer_engine(spec, transformer, device)
    noise = torch.Generator(device=device).manual_seed(0)
    micro_batches: Iterator[MicroBatch] = itertools.repeat((inputs, None))

    def step() -> torch.Tensor:
        losses, _ = optimizer_step(engine, spec, model.flow_shift, noise, micro_batches)
        return losses[-1].total

    return sum(p.numel() for p in params), step


def measure(build: Callable[[], tuple[int, Step]], args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """Build a loop, run --warmup then --steps optimizer steps of it; its speed and peak memory."""
    _release(device)
    _reset_peak_memory(device)
    trainable, step = build()
    for _ in range(args.warmup):
        step()
    _synchronize(device)
    started = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    final_loss = float(loss)  # the trainer's first read of a loss: a host sync
    _synchronize(device)
    step_s = (time.perf_counter() - started) / args.steps
    return {"trainable_params": trainable, "steps": args.steps, "step_s": round(step_s, 5),
            "samples_per_s": round(args.batch / step_s, 3), "final_loss": round(final_loss, 5),
            "peak_memory_mb": _peak_memory_mb(device)}


def _release(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM back to the current RSS


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmHWM in /proc/self/status")


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


if __name__ == "__main__":
    main()
