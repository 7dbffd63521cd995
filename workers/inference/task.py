"""The inference task: claim a generation (and compatible pending ones), sample, store the PNGs.

One `ModelCache` per worker process holds the models. A sweeper thread scales endpoints to
zero: when an endpoint this worker serves has been idle for its `idle_timeout_s` (and keeps no
minimum replica), it goes `scaling_down`, its model is released, and it is `cold` again.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import threading
import time
from datetime import timedelta
from functools import lru_cache

from celery.signals import worker_ready
from sqlalchemy import select

from sanacloud.model.sampling.generate import generate as sample
from sanacloud.model.sampling.generate import make_pipeline
from sanacloud.platform.db.base import utcnow
from sanacloud.platform.db.models import Endpoint, Model
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.queues import INFER_TASK
from sanacloud.platform.serving import generations
from sanacloud.platform.serving.generations import Request, ServedModel
from sanacloud.platform.serving.states import WARM, EndpointStatus
from sanacloud.platform.settings import get_settings
from sanacloud.platform.storage import get_object_store, keys
from sanacloud.workers.celery_app import app
from sanacloud.workers.inference.cache import ModelCache

log = logging.getLogger(__name__)
SWEEP_S = 1.0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@lru_cache
def model_cache() -> ModelCache:
    settings = get_settings()
    # Compiled artefacts outlive the process there (model/sampling/serving.py). Assigned, not
    # defaulted: importing torch's inductor already filled in its default, a folder under /tmp.
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(settings.effective_work_dir / "torch-compile")
    return ModelCache(get_object_store(), settings.effective_work_dir, max_adapters=settings.inference_max_adapters,
                      compile=settings.inference_compile, max_batch=settings.inference_max_batch)


@worker_ready.connect
def _start_sweeper(**_: object) -> None:
    """In the worker's main process, which is where tasks run with `--pool solo`."""
    threading.Thread(target=_sweep_forever, name="scale-to-zero", daemon=True).start()


@app.task(name=INFER_TASK)
def generate(generation_id: str) -> list[str] | None:
    """Returns the ids of the generations served in this batch (None when another worker took it)."""
    settings = get_settings()
    with session_scope() as session:
        claimed = generations.claim_batch(session, generation_id=generation_id,
                                          max_images=settings.inference_max_batch, worker=worker_name())
    if claimed is None:
        return None
    served, requests = claimed
    endpoints = {request.endpoint_id for request in requests}
    try:
        run_batch(served, requests, endpoints)
    except Exception as error:  # every request in the batch ends with the reason; the worker goes on
        log.exception("generation batch %s failed", [r.generation_id for r in requests])
        with session_scope() as session:
            for request in requests:
                generations.finish(session, generation_id=request.generation_id, image_keys=[], timings={},
                                   error=f"{type(error).__name__}: {error}")
    return [request.generation_id for request in requests]


def run_batch(served: ServedModel, requests: list[Request], endpoints: set[str]) -> None:
    cache = model_cache()
    with cache.lock:
        try:
            sana, costs = cache.acquire(served)
        except Exception as error:
            with session_scope() as session:
                generations.mark_endpoints(session, endpoints, EndpointStatus.FAILED, worker=None,
                                           error=f"loading the model failed: {type(error).__name__}: {error}")
            raise
        with session_scope() as session:
            generations.mark_endpoints(session, endpoints, EndpointStatus.READY, worker=worker_name())
        params = requests[0].params  # the batch keys are equal across the batch
        prompts, seeds = [], []
        for request in requests:
            count = int(request.params["num_images"])
            prompts += [request.params["prompt"]] * count
            seeds += [int(request.params["seed"]) + i for i in range(count)]
        timings: dict[str, float] = {}
        images = sample(make_pipeline(sana, params["sampler"]), sana, prompts, seeds=seeds, steps=params["steps"],
                        guidance=params["guidance"], resolution=params["resolution"],
                        negative_prompt=params["negative_prompt"], timings=timings)
    store, offset = get_object_store(), 0
    for request in requests:
        image_keys = []
        for index in range(int(request.params["num_images"])):
            encoded = io.BytesIO()
            images[offset + index].save(encoded, format="PNG")
            key = keys.generation_image(request.tenant_id, request.endpoint_id, request.generation_id, index)
            store.put_bytes(key, encoded.getvalue(), "image/png")
            image_keys.append(key)
        offset += len(image_keys)
        with session_scope() as session:
            generations.finish(session, generation_id=request.generation_id, image_keys=image_keys, timings={
                "queue_s": round(request.queued_s, 4), **costs, **timings, "batch_images": len(images)})


def _sweep_forever() -> None:
    while True:
        time.sleep(SWEEP_S)
        try:
            sweep(model_cache())
        except Exception:  # never let the sweeper die: the next pass tries again
            log.exception("scale-to-zero sweep failed")


def sweep(cache: ModelCache) -> list[str]:
    """Scale this worker's idle endpoints to zero and let go of models no busy endpoint needs."""
    now, me = utcnow(), worker_name()
    with session_scope() as session:
        mine = session.scalars(select(Endpoint).where(Endpoint.worker == me, Endpoint.status.in_(WARM))).all()
        idle = {e.id for e in mine if e.min_replicas == 0 and e.last_request_at is not None
                and now - e.last_request_at > timedelta(seconds=e.idle_timeout_s)}
        if idle:
            generations.mark_endpoints(session, idle, EndpointStatus.SCALING_DOWN, worker=me)
        busy = [e for e in mine if e.id not in idle]
        needed = set()
        for endpoint in busy:
            model = session.get_one(Model, endpoint.model_id)
            needed |= {model.id, model.base_model_id or model.id}
    released = cache.release(needed) if idle else []
    if idle:
        with session_scope() as session:
            generations.mark_endpoints(session, idle, EndpointStatus.COLD, worker=None)
        log.info("scaled to zero: endpoints %s, released %s", sorted(idle), released)
    return released
