"""What an inference worker does to a loaded model before it serves it.

`prepare` swaps in our linear attention (attention.py) and, when asked, compiles the transformer
and the DC-AE decoder with `torch.compile` in place: the modules stay the very ones adapters
merge into, so a switch of adapter needs no recompile. On CUDA the compile captures CUDA graphs
("reduce-overhead"): a 20-step Sana image is launch-bound without them.

`warm_up` samples every batch size a worker serves (1 to its largest batch) at the model's
native resolution before the endpoint says `ready`, so that no user's image pays a compile:
dynamo compiles batch 1 (it specialises size 1) and batch 2, from which every larger batch shares
one dynamic-batch graph, and on CUDA each size records its own graph. Another resolution, or
guidance ≤ 1 (no CFG doubling), compiles on its first request. Compiled artefacts go to
inductor's cache (`TORCHINDUCTOR_CACHE_DIR`), which a restarted worker reads instead of
compiling from scratch.
"""

from __future__ import annotations

import time
from typing import Literal

import torch

from sanacloud.model.components import Sana
from sanacloud.model.sampling.attention import use_linear_attention
from sanacloud.model.sampling.generate import generate, make_pipeline

CompileSetting = Literal["auto", "on", "off"]
WARM_UP_STEPS = 2  # every step has the same shapes; two run the solver's first and later updates
# Every module compiled in place shares one code object (nn.Module._call_impl), and so dynamo's
# limit of graphs per code object: two models' transformers and decoders at a few shapes each
# would pass the default 8, after which new shapes silently run eager.
RECOMPILE_LIMIT = 64


def compiles(setting: CompileSetting, device: torch.device) -> bool:
    """auto: on GPU only (compiling sana-tiny on a 2-core CPU takes longer than it saves)."""
    return setting == "on" or (setting == "auto" and device.type == "cuda")


def prepare(sana: Sana, *, compiled: bool) -> None:
    use_linear_attention(sana.transformer)
    if compiled:
        torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT)
        mode = "reduce-overhead" if sana.transformer.device.type == "cuda" else None
        sana.transformer.compile(mode=mode)
        sana.vae.decoder.compile(mode=mode)


def warm_up(sana: Sana, max_batch: int, prompt: str = "warm-up") -> float:
    """Sample each batch size from 1 to `max_batch` once; returns the seconds it took."""
    started = time.perf_counter()
    pipe = make_pipeline(sana)
    for batch in range(1, max_batch + 1):
        generate(pipe, sana, [prompt] * batch, seeds=list(range(batch)), steps=WARM_UP_STEPS)
    return time.perf_counter() - started
