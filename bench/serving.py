"""Serving sana-tiny on CPU through the inference worker's own path (`workers/inference`: ModelCache +
generate), against the baselines measured in the same run.

    python bench/serving.py [--repeat 7] [--no-compile]

Each timing is the fastest of --repeat runs (the one least disturbed by the machine's other work).

  cold_start_s        load the base into an empty cache, then the first 20-step 128 px image
  base_s              one image with the base model held (fastest)
  sana_pipeline_s     the baseline: SanaPipeline called directly for the same image
  lora_s              one image through a LoRA adapter, served merged into the weights (fastest)
  lora_unfused_s      the baseline: the same adapter left as PEFT's layers (what diffusers does)
  adapter_load_s      a LoRA fetched from object storage and read into the cache
  adapter_swap_s      switching between two loaded adapters (fastest)
  compiled_warm_up_s  loading with `compile="on"`: torch.compile and the warm-up, cold inductor cache
  compiled_s          one image through the compiled model (fastest)
and the ratios lora/base, lora_unfused/base, base/sana_pipeline, compiled/base.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from sanacloud.model.components import Sana, load
from sanacloud.model.sampling.attention import use_linear_attention
from sanacloud.model.sampling.generate import generate, make_pipeline
from sanacloud.model.tiny import WEIGHTS
from sanacloud.model.tiny.config import SPEC
from sanacloud.model.train.lora import add_lora, export_lora
from sanacloud.model.train.spec import LoraSpec
from sanacloud.platform.serving.generations import ServedModel
from sanacloud.platform.storage.local import LocalObjectStore
from sanacloud.workers.inference.cache import ModelCache

PROMPT = "a red circle on a blue background"
BASE = ServedModel("base", "base", "sana-tiny", "builtin://sana-tiny", "base", "builtin://sana-tiny")


def random_lora(store: LocalObjectStore, name: str, seed: int, scratch: Path) -> tuple[ServedModel, Path]:
    sana = load(WEIGHTS, SPEC)
    torch.manual_seed(seed)
    for param in add_lora(sana.transformer, LoraSpec(rank=16)):
        param.data.normal_(0, 0.05)
    path = export_lora(sana.transformer, scratch / name)
    store.put_bytes(f"models/{name}/{path.name}", path.read_bytes())
    return ServedModel(name, "lora", "sana-tiny", f"store://models/{name}/", "base", "builtin://sana-tiny"), path


def seconds(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def image(sana: Sana) -> None:
    generate(make_pipeline(sana), sana, [PROMPT], seeds=[0], steps=20)


def served_image(cache: ModelCache, served: ServedModel) -> dict[str, float]:
    sana, costs = cache.acquire(served)
    image(sana)
    return costs


def unfused_lora_image_s(lora_file: Path, repeat: int) -> float:
    """With our attention too, so that the ratio to a base image is the adapter's alone."""
    sana = load(WEIGHTS, SPEC)
    use_linear_attention(sana.transformer)
    pipe = make_pipeline(sana)
    pipe.load_lora_weights(lora_file, adapter_name="unfused")
    return seconds(lambda: image(sana), repeat)


def sana_pipeline_s(repeat: int) -> float:
    pipe = make_pipeline(load(WEIGHTS, SPEC))
    return seconds(lambda: pipe(prompt=PROMPT, num_inference_steps=20, height=128, width=128,
                                max_sequence_length=SPEC.max_tokens, complex_human_instruction=None,
                                use_resolution_binning=False), repeat)


def compiled(store: LocalObjectStore, root: Path, repeat: int) -> dict[str, float]:
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(root / "torch-compile")  # empty: a cold compile
    cache = ModelCache(store, root / "compiled", compile="on")
    started = time.perf_counter()
    cache.acquire(BASE)
    warm_up = time.perf_counter() - started
    return {"compiled_warm_up_s": warm_up, "compiled_s": seconds(lambda: served_image(cache, BASE), repeat)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-compile", action="store_true", help="skip the compiled run (minutes on 2 cores)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        store = LocalObjectStore(root / "objects", "http://localhost", "bench-secret")
        (lora, lora_file), (other, _) = (random_lora(store, f"lora-{i}", i, root) for i in (1, 2))
        cache = ModelCache(store, root / "work")
        started = time.perf_counter()
        served_image(cache, BASE)
        result = {"cold_start_s": time.perf_counter() - started,
                  "base_s": seconds(lambda: served_image(cache, BASE), args.repeat),
                  "adapter_load_s": served_image(cache, lora)["adapter_s"]}
        served_image(cache, other)
        result["adapter_swap_s"] = min(
            served_image(cache, (lora, other)[i % 2])["adapter_s"] for i in range(2 * args.repeat))
        result["lora_s"] = seconds(lambda: served_image(cache, lora), args.repeat)
        result["lora_unfused_s"] = unfused_lora_image_s(lora_file, args.repeat)
        result["sana_pipeline_s"] = sana_pipeline_s(args.repeat)
        if not args.no_compile:
            result |= compiled(store, root, args.repeat)
    ratios = {"lora_over_base": result["lora_s"] / result["base_s"],
              "lora_unfused_over_base": result["lora_unfused_s"] / result["base_s"],
              "base_over_sana_pipeline": result["base_s"] / result["sana_pipeline_s"]}
    if "compiled_s" in result:
        ratios["compiled_over_base"] = result["compiled_s"] / result["base_s"]
    print(json.dumps({key: round(value, 4) for key, value in (result | ratios).items()}))


if __name__ == "__main__":
    main()
