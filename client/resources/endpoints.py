from __future__ import annotations

import time
from typing import Any

import httpx

from sanacloud.client._call import Call, Flow, Sleep, parse_as, parse_nothing, without_none
from sanacloud.client._resource import D, Resource, operation, paged
from sanacloud.client.errors import WaitTimeout
from sanacloud.client.models import Endpoint, Generation
from sanacloud.client.pagination import PageCall, parse_page

MAX_SERVER_WAIT_S = 300.0  # GenerateRequest.timeout_s's most
ANSWER_MARGIN_S = 5.0  # the API answers this long before the HTTP timeout would give up on it
POLL_S = 0.5


class GenerationReader(Resource[D]):
    """Reads generations as models that download their images through this client."""

    def _generation(self, response: httpx.Response) -> Generation:
        generation = Generation(**response.json())
        generation._driver = self._driver
        return generation

    def _generation_call(self, generation_id: str) -> Call[Generation]:
        return Call("generations-get", self._generation, path={"generation_id": generation_id})


class Endpoints(GenerationReader[D]):
    @operation("endpoints-create")
    def create(self, *, name: str, model: str, pool: str | None = None, min_replicas: int | None = None,
               max_replicas: int | None = None, idle_timeout_s: int | None = None,
               rate_limit_per_minute: int | None = None, defaults: dict[str, Any] | None = None) -> Call[Endpoint]:
        """An endpoint serving `model` (a model's id or name, or a base model's name such as "sana-tiny")."""
        body = without_none(name=name, model=model, pool=pool, min_replicas=min_replicas, max_replicas=max_replicas,
                            idle_timeout_s=idle_timeout_s, rate_limit_per_minute=rate_limit_per_minute,
                            defaults=defaults)
        return Call("endpoints-create", parse_as(Endpoint), json=body)

    @operation("endpoints-get")
    def retrieve(self, endpoint_id: str) -> Call[Endpoint]:
        return Call("endpoints-get", parse_as(Endpoint), path={"endpoint_id": endpoint_id})

    @paged("endpoints-list")
    def list(self, *, limit: int | None = None) -> PageCall[Endpoint]:
        return PageCall(Call("endpoints-list", parse_page(Endpoint), params=without_none(limit=limit)))

    @operation("endpoints-update")
    def update(self, endpoint_id: str, *, name: str | None = None, min_replicas: int | None = None,
               max_replicas: int | None = None, idle_timeout_s: int | None = None,
               rate_limit_per_minute: int | None = None, defaults: dict[str, Any] | None = None) -> Call[Endpoint]:
        body = without_none(name=name, min_replicas=min_replicas, max_replicas=max_replicas,
                            idle_timeout_s=idle_timeout_s, rate_limit_per_minute=rate_limit_per_minute,
                            defaults=defaults)
        return Call("endpoints-update", parse_as(Endpoint), path={"endpoint_id": endpoint_id}, json=body)

    @operation("endpoints-delete")
    def delete(self, endpoint_id: str) -> Call[None]:
        return Call("endpoints-delete", parse_nothing, path={"endpoint_id": endpoint_id})

    @operation("endpoints-generate")
    def generate(self, endpoint_id: str, prompt: str, *, negative_prompt: str | None = None, seed: int | None = None,
                 steps: int | None = None, guidance: float | None = None, resolution: int | None = None,
                 sampler: str | None = None, num_images: int | None = None, wait: bool = True,
                 timeout: float | None = None) -> Flow[Generation]:
        """Generates images. With `wait` the generation returned has finished (`images()` downloads them,
        `save()` writes them), or WaitTimeout is raised after `timeout` seconds; else it returns at once."""
        deadline = None if timeout is None else time.monotonic() + timeout
        server_wait = min(MAX_SERVER_WAIT_S, max(1.0, self._driver.config.timeout - ANSWER_MARGIN_S),
                          timeout if timeout is not None else MAX_SERVER_WAIT_S)
        body = without_none(prompt=prompt, negative_prompt=negative_prompt, seed=seed, steps=steps, guidance=guidance,
                            resolution=resolution, sampler=sampler, num_images=num_images, wait=wait,
                            timeout_s=server_wait if wait else None)
        generation: Generation = yield Call("endpoints-generate", self._generation, path={"endpoint_id": endpoint_id},
                                            json=body)
        while wait and not generation.finished:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise WaitTimeout(f"generation {generation.id} is still {generation.status} after {timeout:g} s")
            yield Sleep(POLL_S if left is None else min(POLL_S, left))
            generation = yield self._generation_call(generation.id)
        return generation


class Generations(GenerationReader[D]):
    @operation("generations-get")
    def retrieve(self, generation_id: str) -> Call[Generation]:
        return self._generation_call(generation_id)
