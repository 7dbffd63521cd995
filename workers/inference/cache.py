"""The models an inference worker holds in memory.

Bases are loaded once and shared: every LoRA endpoint on a base is an adapter on that one
loaded transformer, switched per request (an LRU of `max_adapters` adapters per base). A full
fine-tune is the base's folder with its own transformer, held on its own. At most `max_models`
bases and full fine-tunes are held; the least recently used goes first. `release` lets models
go once no endpoint needs them (scale to zero). Each loaded model is prepared for serving (and,
with `compile`, compiled and warmed up) before `acquire` returns it: model/sampling/serving.py.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import torch
from diffusers import SanaTransformer2DModel

from sanacloud.model.components import DTYPES, Sana, load
from sanacloud.model.registry import REGISTRY
from sanacloud.model.sampling.adapters import Adapters
from sanacloud.model.sampling.generate import make_pipeline
from sanacloud.model.sampling.serving import CompileSetting, compiles, prepare, warm_up
from sanacloud.model.train.checkpoint_layout import TRANSFORMER_DIR
from sanacloud.platform.serving.generations import ServedModel
from sanacloud.platform.storage import ObjectStore
from sanacloud.workers.model_files import model_folder


@dataclass
class Held:
    sana: Sana
    adapters: Adapters | None = None  # bases only
    lru: OrderedDict[str, None] = field(default_factory=OrderedDict)  # adapter model ids, oldest first
    warm_up_s: float = 0.0


class ModelCache:
    def __init__(self, store: ObjectStore, work_dir: Path, *, max_adapters: int = 8, max_models: int = 2,
                 compile: CompileSetting = "off", max_batch: int = 8) -> None:
        self.store, self.work_dir = store, work_dir
        self.max_adapters, self.max_models = max_adapters, max_models
        self.compile, self.max_batch = compile, max_batch  # a compiled model is warmed up for batches 1..max_batch
        self.lock = threading.RLock()  # one request at a time uses the models; release waits for it
        self.held: OrderedDict[str, Held] = OrderedDict()  # base model id or full model id
        self.loads: Counter[str] = Counter()  # how often each was loaded: a base shared by endpoints loads once

    def acquire(self, served: ServedModel) -> tuple[Sana, dict[str, float]]:
        """The model ready to sample (adapter switched); with the seconds it took to load (of which the
        warm-up of a compiled model) and to switch adapters."""
        costs = {"load_s": 0.0, "warm_up_s": 0.0, "adapter_s": 0.0}
        key = served.model_id if served.kind == "full" else served.base_model_id
        with self.lock:
            started = time.perf_counter()
            held = self.held.get(key)
            if held is None:
                held = self._load(key, served)
                costs["warm_up_s"] = round(held.warm_up_s, 4)
            self.held.move_to_end(key)
            costs["load_s"] = round(time.perf_counter() - started, 4)
            if held.adapters is not None:
                started = time.perf_counter()
                self._switch(held, served)
                if torch.cuda.is_available():
                    torch.cuda.synchronize()  # the merge is asynchronous: time it, not its launch
                costs["adapter_s"] = round(time.perf_counter() - started, 4)
            return held.sana, costs

    def release(self, needed: set[str]) -> list[str]:
        """Let go of every held model (and adapter) whose id is not in `needed`; returns what went."""
        gone = []
        with self.lock:
            for key in list(self.held):
                held = self.held[key]
                if held.adapters is not None:
                    for adapter in [a for a in held.lru if a not in needed]:
                        held.adapters.unload(adapter)
                        del held.lru[adapter]
                        gone.append(adapter)
                    if held.lru:
                        continue
                if key not in needed:
                    del self.held[key]
                    gone.append(key)
        return gone

    def held_ids(self) -> set[str]:
        with self.lock:
            return set(self.held) | {adapter for held in self.held.values() for adapter in held.lru}

    def _load(self, key: str, served: ServedModel) -> Held:
        while len(self.held) >= self.max_models:
            self.held.popitem(last=False)
        spec = REGISTRY[served.family]
        device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = DTYPES[spec.dtype] if device == "cuda" else torch.float32
        sana = load(model_folder(served.base_uri, served.base_model_id, self.store, self.work_dir), spec,
                    dtype=dtype, device=device)
        if served.kind == "full":
            folder = model_folder(served.uri, served.model_id, self.store, self.work_dir) / TRANSFORMER_DIR
            sana.transformer = SanaTransformer2DModel.from_pretrained(folder, torch_dtype=dtype).to(device).eval()
        compiled = compiles(self.compile, torch.device(device))
        prepare(sana, compiled=compiled)
        held = Held(sana, adapters=Adapters(make_pipeline(sana)) if served.kind != "full" else None,
                    warm_up_s=warm_up(sana, self.max_batch) if compiled else 0.0)
        self.held[key] = held
        self.loads[key] += 1
        return held

    def _switch(self, held: Held, served: ServedModel) -> None:
        assert held.adapters is not None
        if served.kind != "lora":
            held.adapters.activate(None)
            return
        if served.model_id not in held.lru:
            while len(held.lru) >= self.max_adapters:
                oldest, _ = held.lru.popitem(last=False)
                held.adapters.unload(oldest)
            held.adapters.load(served.model_id, model_folder(served.uri, served.model_id, self.store, self.work_dir))
        held.lru[served.model_id] = None
        held.lru.move_to_end(served.model_id)
        held.adapters.activate(served.model_id)
