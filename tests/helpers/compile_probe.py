"""The inference worker's model cache serving compiled, in a process of its own (fresh dynamo
state; the inductor cache the test names in TORCHINDUCTOR_CACHE_DIR):
`python -m tests.helpers.compile_probe SCRATCH` prints one JSON object: the graphs compiled by the
warm-up and after serving, the inductor cache's hits and misses, the warm-up's seconds, and how far
compiled images are from eager ones (max |Δ| of 255), for sana-tiny bare and through a LoRA.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch._dynamo.utils import counters

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
BASE = ServedModel("base", "base", "sana-tiny", "builtin://sana-tiny", "base", "builtin://sana-tiny")


def uploaded_lora(store: LocalObjectStore, scratch: Path) -> ServedModel:
    transformer = load(WEIGHTS, SPEC).transformer
    torch.manual_seed(1)
    for param in add_lora(transformer, LoraSpec(rank=4)):
        param.data.normal_(0, 0.05)
    path = export_lora(transformer, scratch / "lora")
    store.put_bytes(f"models/lora/{path.name}", path.read_bytes())
    return ServedModel("lora", "lora", "sana-tiny", "store://models/lora/", "base", "builtin://sana-tiny")


def pixels(cache: ModelCache, served: ServedModel, prompts: int) -> np.ndarray:
    sana, _ = cache.acquire(served)
    images = generate(make_pipeline(sana), sana, [PROMPT] * prompts, seeds=list(range(prompts)), steps=4)
    return np.stack([np.asarray(image, dtype=int) for image in images])


def main(scratch: Path) -> dict[str, object]:
    scratch.mkdir(parents=True, exist_ok=True)
    store = LocalObjectStore(scratch / "objects", "http://localhost", "probe-secret")
    lora = uploaded_lora(store, scratch)
    eager = ModelCache(store, scratch / "eager", compile="off")
    expected = {"base": pixels(eager, BASE, 3), "lora": pixels(eager, lora, 1)}
    compiled = ModelCache(store, scratch / "compiled", compile="on")
    _, costs = compiled.acquire(BASE)
    graphs = counters["stats"]["unique_graphs"]
    served = {"base": pixels(compiled, BASE, 3), "lora": pixels(compiled, lora, 1)}
    return {"warm_up_s": costs["warm_up_s"], "graphs_after_warm_up": graphs,
            "graphs_after_serving": counters["stats"]["unique_graphs"],
            "cache_hits": counters["inductor"]["fxgraph_cache_hit"],
            "cache_misses": counters["inductor"]["fxgraph_cache_miss"],
            "max_diff": {name: int(np.abs(served[name] - expected[name]).max()) for name in expected}}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
