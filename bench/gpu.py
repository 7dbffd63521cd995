"""Every GPU benchmark of the serving path and the trainer, side by side with diffusers in one process.

    python bench/gpu.py [--models sana-600m-1024,sana-1600m-1024] [--batches 1,4] [--only serving,lora,training]
    python bench/gpu.py --tiny [--no-compile]   # the script itself, on CPU: sana-tiny's layout, 128 px, 4 steps

A device call runs at most 10 minutes: split a GPU session by part and model, most wanted first, e.g.
    --only serving --models sana-1600m-1024;  --only serving --models sana-600m-1024;  --only lora,training

Models are the registry's configurations with random weights (nothing is downloaded), written once to
local disk as a diffusers folder: the DC-AE is Sana's f32c32 layout, the text encoder Gemma-2-2B's,
and the tokenizer byte-level (no vocabulary file may be fetched), which makes prompts, and Sana's
complex human instruction, longer in tokens than Gemma's own tokenizer would: the text encoder's
share of an image is larger here than in production, the same for every path compared.

Each measurement is one JSON line on stdout (and appended to $OUT/results.jsonl when OUT is set):
  serving      per model and batch, 20 Flow-DPM-Solver steps with CFG at the model's resolution:
               `ours` (the inference worker's ModelCache: linear attention, compile + CUDA graphs,
               warmed up), `diffusers` (SanaPipeline eager) and `diffusers_compiled` (SanaPipeline
               with its transformer under torch.compile "reduce-overhead"): end_to_end_s (prompt to
               PIL image) and transformer_s (the 20 steps' transformer calls alone); `ours` also
               reports cold_start_s, local disk to the first image (load, compile, warm-up).
  lora_switch  ours: switching the merged adapter between two rank-32 LoRAs, and back to the base.
  loop, compare  bench/training.py's comparison: our trainer's step against a diffusers-style loop
               (LoRA rank 32 and full fine-tuning), in a process of its own (serving's CUDA graph
               pools would count in its peak memory).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderDC, SanaPipeline, SanaTransformer2DModel
from transformers import ByT5Tokenizer, Gemma2Config, Gemma2Model

from sanacloud.model.components import DTYPES, Sana, load
from sanacloud.model.registry import REGISTRY, ModelSpec
from sanacloud.model.sampling.adapters import Adapters
from sanacloud.model.sampling.generate import generate, make_pipeline
from sanacloud.model.text import COMPLEX_HUMAN_INSTRUCTION
from sanacloud.model.tiny.config import TEXT as TINY_TEXT
from sanacloud.model.tiny.config import VAE as TINY_VAE
from sanacloud.model.train.lora import add_lora, export_lora
from sanacloud.model.train.spec import LoraSpec
from sanacloud.platform.serving.generations import ServedModel
from sanacloud.platform.storage.local import LocalObjectStore
from sanacloud.workers.inference.cache import ModelCache

sys.path.insert(0, str(Path(__file__).parent))
from jsonl import emit  # bench/jsonl.py, beside this file

TRAINING = Path(__file__).parent / "training.py"
PROMPT = "a photo of a red fox in a snowy forest at dawn, highly detailed"
STEPS, GUIDANCE = 20, 4.5
# Sana's released DC-AE (dc-ae-f32c32-sana-1.0) and Gemma-2-2B layouts.
DC_AE_F32C32: dict[str, Any] = dict(
    in_channels=3, latent_channels=32, attention_head_dim=32,
    encoder_block_types=["ResBlock"] * 3 + ["EfficientViTBlock"] * 3,
    decoder_block_types=["ResBlock"] * 3 + ["EfficientViTBlock"] * 3,
    encoder_block_out_channels=(128, 256, 512, 512, 1024, 1024),
    decoder_block_out_channels=(128, 256, 512, 512, 1024, 1024),
    encoder_layers_per_block=(2, 2, 2, 3, 3, 3), decoder_layers_per_block=(3, 3, 3, 3, 3, 3),
    encoder_qkv_multiscales=((), (), (), (5,), (5,), (5,)), decoder_qkv_multiscales=((), (), (), (5,), (5,), (5,)),
    decoder_norm_types=["batch_norm"] * 3 + ["rms_norm"] * 3, decoder_act_fns=["relu"] * 3 + ["silu"] * 3,
    upsample_block_type="interpolate", downsample_block_type="Conv", scaling_factor=0.41407)
GEMMA_2_2B = Gemma2Config(hidden_size=2304, num_hidden_layers=26, num_attention_heads=8, num_key_value_heads=4,
                          head_dim=256, intermediate_size=9216, vocab_size=256000)


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def seconds(action: Callable[[], object], repeat: int, warm: int = 2) -> float:
    for _ in range(warm):
        action()
    times = []
    for _ in range(repeat):
        sync()
        started = time.perf_counter()
        action()
        sync()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def random_model(spec: ModelSpec, folder: Path, args: argparse.Namespace) -> Path:
    """The spec's transformer with random weights, Sana's codec and text encoder, saved as a folder
    in the spec's dtype (initialised on the device: a 2.6B-parameter Gemma takes minutes on a CPU)."""
    torch.manual_seed(0)
    with torch.device(args.device):
        sana = Sana(spec, SanaTransformer2DModel(**spec.transformer),
                    AutoencoderDC(**(TINY_VAE if args.tiny else DC_AE_F32C32)),
                    Gemma2Model(TINY_TEXT if args.tiny else GEMMA_2_2B).eval(), ByT5Tokenizer())
    if torch.cuda.is_available():
        for module in (sana.transformer, sana.vae, sana.text_encoder):
            module.to(DTYPES[spec.dtype])
    sana.save(folder)
    return folder


def transformer_seconds(transformer: SanaTransformer2DModel, spec: ModelSpec, batch: int, steps: int,
                        repeat: int) -> float:
    """The transformer's calls of `steps` CFG steps (batch doubled), on random inputs."""
    side, device, dtype = spec.resolution // 32, transformer.device, transformer.dtype
    latents = torch.randn(2 * batch, transformer.config.in_channels, side, side, device=device, dtype=dtype)
    tokens = spec.max_tokens  # a prompt at its longest (Sana's complex human instruction not counted)
    text = torch.randn(2 * batch, tokens, transformer.config.caption_channels, device=device, dtype=dtype)
    mask = torch.ones(2 * batch, tokens, device=device, dtype=torch.int64)  # as the tokenizer's, so no recompile
    timestep = torch.full((2 * batch,), 500.0, device=device)

    @torch.no_grad()
    def denoise() -> None:
        for _ in range(steps):
            transformer(latents, encoder_hidden_states=text, encoder_attention_mask=mask, timestep=timestep,
                        return_dict=False)
    return seconds(denoise, repeat)


def pipeline_image(pipe: SanaPipeline, spec: ModelSpec, batch: int, steps: int) -> None:
    pipe(prompt=[PROMPT] * batch, num_inference_steps=steps, guidance_scale=GUIDANCE, height=spec.resolution,
         width=spec.resolution, max_sequence_length=spec.max_tokens,
         complex_human_instruction=COMPLEX_HUMAN_INSTRUCTION if spec.use_chi else None,
         use_resolution_binning=False)


def serving(spec: ModelSpec, folder: Path, work: Path, args: argparse.Namespace) -> None:
    ours(spec, folder, work, args)
    _free()
    for path in ("diffusers",) if args.no_compile else ("diffusers", "diffusers_compiled"):
        diffusers_pipeline(spec, folder, path, args)
        _free()


def ours(spec: ModelSpec, folder: Path, work: Path, args: argparse.Namespace) -> None:
    store = LocalObjectStore(work / "objects", "http://localhost", "bench-secret")
    served = ServedModel("bench", "base", spec.name, str(folder), "bench", str(folder))
    cache = ModelCache(store, work / "ours", compile="off" if args.no_compile else "on")
    started = time.perf_counter()
    sana, costs = cache.acquire(served)
    generate(make_pipeline(sana), sana, [PROMPT], seeds=[0], steps=args.steps)
    sync()
    emit(kind="cold_start", model=spec.name, path="ours", cold_start_s=round(time.perf_counter() - started, 3),
         warm_up_s=costs["warm_up_s"])
    for batch in args.batches:
        images = functools.partial(generate, make_pipeline(sana), sana, [PROMPT] * batch, seeds=list(range(batch)),
                                   steps=args.steps)
        emit(kind="serving", model=spec.name, path="ours", batch=batch,
             end_to_end_s=round(seconds(images, args.repeat), 4),
             transformer_s=round(transformer_seconds(sana.transformer, spec, batch, args.steps, args.repeat), 4))
    cache.release(set())


def diffusers_pipeline(spec: ModelSpec, folder: Path, path: str, args: argparse.Namespace) -> None:
    dtype = DTYPES[spec.dtype] if torch.cuda.is_available() else torch.float32
    pipe = SanaPipeline.from_pretrained(folder, torch_dtype=dtype, local_files_only=True).to(args.device)
    pipe.set_progress_bar_config(disable=True)
    if path == "diffusers_compiled":
        mode = "reduce-overhead" if torch.cuda.is_available() else None
        pipe.transformer = torch.compile(pipe.transformer, mode=mode)
    for batch in args.batches:
        images = functools.partial(pipeline_image, pipe, spec, batch, args.steps)
        emit(kind="serving", model=spec.name, path=path, batch=batch,
             end_to_end_s=round(seconds(images, args.repeat), 4),
             transformer_s=round(transformer_seconds(pipe.transformer, spec, batch, args.steps, args.repeat), 4))


def lora_switch(spec: ModelSpec, folder: Path, work: Path, args: argparse.Namespace) -> None:
    """Both adapters loaded on one base; a switch is what `Adapters.activate` costs, synchronised."""
    dtype = DTYPES[spec.dtype] if torch.cuda.is_available() else torch.float32
    files = []
    for seed in (1, 2):
        transformer = SanaTransformer2DModel.from_pretrained(folder / "transformer")
        torch.manual_seed(seed)
        for param in add_lora(transformer, LoraSpec(rank=32)):
            param.data.normal_(0, 0.01)
        files.append(export_lora(transformer, work / f"lora-{seed}"))
    adapters = Adapters(make_pipeline(load(folder, spec, dtype=dtype, device=args.device)))
    for index, file in enumerate(files):
        adapters.load(f"lora-{index}", file)

    def between_adapters() -> None:
        adapters.activate("lora-0")
        adapters.activate("lora-1")

    def to_base_and_back() -> None:
        adapters.activate(None)
        adapters.activate("lora-1")

    switch = seconds(between_adapters, args.repeat) / 2
    to_base = seconds(to_base_and_back, args.repeat) / 2
    emit(kind="lora_switch", model=spec.name, rank=32, layers=len(adapters.base_weights),
         switch_s=round(switch, 5), to_base_and_back_s=round(to_base, 5))


def train(spec: ModelSpec, args: argparse.Namespace) -> None:
    """The baseline's runs: LoRA rank 32 at batch 8; full at batch 8, or 4 with gradient checkpointing
    for Sana-1600M (whose full fine-tune needs it to fit)."""
    big = spec.transformer["num_layers"] == REGISTRY["sana-1600m-1024"].transformer["num_layers"]
    batch = 2 if args.tiny else 8
    runs = [["--variants", "lora", "--batch", str(batch), "--lora-rank", "32"],
            ["--variants", "full", "--batch", str(batch // 2 if big else batch),
             *(["--gradient-checkpointing"] if big else [])]]
    for run in runs:
        subprocess.run([sys.executable, str(TRAINING), "--model", spec.name, "--steps",
                        str(args.train_steps), "--warmup", str(args.train_warmup), "--device", args.device, *run],
                       check=True)


def _free() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="sana-tiny's layout on CPU, 4 steps: checks the script")
    parser.add_argument("--models", default="sana-600m-1024,sana-1600m-1024")
    parser.add_argument("--batches", default="1,4")
    parser.add_argument("--only", default="serving,lora,training")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--train-steps", type=int, default=10)
    parser.add_argument("--train-warmup", type=int, default=3, help="untimed training steps (the compile)")
    parser.add_argument("--no-compile", action="store_true",
                        help="eager only (what CI runs: compiles take minutes on CPU)")
    args = parser.parse_args(argv)
    args.device = "cuda" if torch.cuda.is_available() else "cpu"
    args.batches = [int(batch) for batch in args.batches.split(",")]
    args.steps = 4 if args.tiny else STEPS
    if args.tiny:
        args.models, args.batches, args.repeat, args.train_steps, args.train_warmup = "sana-tiny", [1, 2], 1, 2, 1
    return args


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    emit(kind="env", device=torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
         torch=torch.__version__, diffusers=__import__("diffusers").__version__)
    wanted = set(args.only.split(","))
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.models.split(","):
            spec, work = REGISTRY[name], Path(scratch) / name
            torch._dynamo.reset()  # the previous model's graphs would count against this one's limits
            folder = random_model(spec, work / "model", args)
            parts: dict[str, Callable[[], None]] = {
                "serving": functools.partial(serving, spec, folder, work, args),
                "lora": functools.partial(lora_switch, spec, folder, work, args),
                "training": functools.partial(train, spec, args)}
            for part, run in parts.items():
                if part not in wanted:
                    continue
                started = time.perf_counter()
                try:
                    run()
                except Exception as error:  # one failed part must not lose the others' numbers
                    traceback.print_exc()
                    emit(kind="error", model=name, part=part, error=f"{type(error).__name__}: {error}"[:500])
                print(f"# {name} {part}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
