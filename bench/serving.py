"""Serving sana-tiny on CPU: cold start, warm latency and LoRA adapter swaps, through the
inference worker's own path (`workers/inference`: ModelCache + generate).

    python bench/serving.py [--repeat 5]

  cold_start_s      load the base into an empty cache, then the first 20-step 128 px image
  warm_s            one image with the model held (median)
  adapter_load_s    a LoRA fetched from object storage and attached to the loaded base
  adapter_swap_s    switching between two loaded adapters (median)
  lora_warm_s       one image through an adapter (median)
  sana_pipeline_s   the baseline in the same run: SanaPipeline called directly for the same image
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from sanacloud.model.components import load
from sanacloud.model.sampling.generate import generate, make_pipeline
from sanacloud.model.tiny import WEIGHTS
from sanacloud.model.tiny.config import SPEC
from sanacloud.model.train.lora import add_lora, export_lora
from sanacloud.model.train.spec import LoraSpec
from sanacloud.platform.serving.generations import ServedModel
from sanacloud.platform.storage.local import LocalObjectStore
from sanacloud.workers.inference.cache import ModelCache

PROMPT = "a red circle on a blue background"


def random_lora(store: LocalObjectStore, name: str, seed: int, scratch: Path) -> str:
    sana = load(WEIGHTS, SPEC)
    torch.manual_seed(seed)
    for param in add_lora(sana.transformer, LoraSpec(rank=16)):
        param.data.normal_(0, 0.05)
    path = export_lora(sana.transformer, scratch / name)
    store.put_bytes(f"models/{name}/{path.name}", path.read_bytes())
    return f"store://models/{name}/"


def seconds(action: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        store = LocalObjectStore(root / "objects", "http://localhost", "bench-secret")
        uris = [random_lora(store, f"lora-{i}", i, root) for i in (1, 2)]
        base = ServedModel("base", "base", "sana-tiny", "builtin://sana-tiny", "base", "builtin://sana-tiny")
        loras = [ServedModel(f"lora-{i}", "lora", "sana-tiny", uri, "base", "builtin://sana-tiny")
                 for i, uri in enumerate(uris, start=1)]
        cache = ModelCache(store, root / "work")

        def one_image(served: ServedModel) -> float:
            sana, costs = cache.acquire(served)
            generate(make_pipeline(sana), sana, [PROMPT], seeds=[0], steps=20)
            return costs["adapter_s"]

        started = time.perf_counter()
        one_image(base)
        cold = time.perf_counter() - started
        warm = seconds(lambda: one_image(base), args.repeat)
        adapter_load = one_image(loras[0])
        one_image(loras[1])
        swaps = [one_image(loras[i % 2]) for i in range(2 * args.repeat)]
        lora_warm = seconds(lambda: one_image(loras[0]), args.repeat)
        sana = load(WEIGHTS, SPEC)
        pipe = make_pipeline(sana)
        direct = seconds(lambda: pipe(prompt=PROMPT, num_inference_steps=20, height=128, width=128,
                                      max_sequence_length=SPEC.max_tokens, complex_human_instruction=None,
                                      use_resolution_binning=False), args.repeat)
    result = {"cold_start_s": cold, "warm_s": warm, "adapter_load_s": adapter_load,
              "adapter_swap_s": statistics.median(swaps), "lora_warm_s": lora_warm, "sana_pipeline_s": direct,
              "warm_over_pipeline": warm / direct}
    print(json.dumps({key: round(value, 4) for key, value in result.items()}))


if __name__ == "__main__":
    main()
