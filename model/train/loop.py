"""The training run: caches, then flow-matching steps, checkpoints with samples, exact resume.

    run(spec)   # resumes from the newest complete checkpoint in spec.output_dir, if any; else
                # starts from spec.init_from's weights, if given (model/train/init_from.py)

With prior preservation (`spec.prior`, model/train/prior.py) each micro-step also takes a batch of
class images; the loss is instance MSE + loss_weight * class MSE, and both data positions resume.

Stops cleanly on SIGTERM: finishes the current step, writes a checkpoint (without samples, unless
one was due anyway: rendering them can outlast the stop's grace on a busy machine), emits
`stopped`. (A platform that needs no checkpoint, e.g. on cancel, kills the process instead.)

A step reads nothing back from the device: losses and the grad norm stay tensors until a step that
logs (`log_every`) or checkpoints, so a GPU runs ahead of the Python that feeds it. Those steps are
also where the divergence guard (model/train/divergence.py) reads whether a loss or grad norm went
NaN or inf, and fails the run (`on_divergence: stop`) before it logs or checkpoints.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import torch
import torch.distributed as dist
import torch.nn.functional as F
from diffusers import SanaTransformer2DModel

from sanacloud.model import flow
from sanacloud.model.captions import caption_choices
from sanacloud.model.components import Sana, load
from sanacloud.model.data.cache import build_latent_cache, build_text_cache
from sanacloud.model.data.folder import ImageRecord, read_image_folder
from sanacloud.model.data.training import TrainingBatch, TrainingData
from sanacloud.model.registry import get_spec
from sanacloud.model.train.divergence import DivergenceGuard, LossScaleExhausted
from sanacloud.model.train.ema import Ema
from sanacloud.model.train.encoders import encoders
from sanacloud.model.train.engine import AUTOCAST, Engine, PlainEngine, allow_fast_cuda_math
from sanacloud.model.train.events import emit, is_main_process
from sanacloud.model.train.init_from import load_weights, starting_checkpoint
from sanacloud.model.train.lora import add_lora
from sanacloud.model.train.prior import class_data
from sanacloud.model.train.saving import restore, save_checkpoint
from sanacloud.model.train.spec import TrainSpec


class StopRequested:
    """Set by SIGTERM; the loop checks it between steps."""

    def __init__(self) -> None:
        self.requested = False
        signal.signal(signal.SIGTERM, self._set)

    def _set(self, *_: object) -> None:
        self.requested = True


def pick_device() -> torch.device:
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0"))) if torch.cuda.is_available() \
        else torch.device("cpu")


def run(spec: TrainSpec) -> None:
    stop = StopRequested()
    device = pick_device()
    model_spec = get_spec(spec.model)
    spec = spec.for_device(device.type, model_spec.dtype)
    if device.type == "cuda":
        allow_fast_cuda_math()
    if spec.type == "full":
        from sanacloud.model.train.zero import init_distributed

        init_distributed(device)
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    torch.manual_seed(spec.seed + rank)
    sana = load(spec.model_path, model_spec, dtype=torch.float32, device=device)
    data = _training_data(spec, sana, device, world)
    prior = _prior_data(spec, sana, device, world)

    init_from = starting_checkpoint(spec)
    params, engine = trainer_engine(spec, sana.transformer, device, init_from)
    ema = Ema(params, spec.ema_decay) if spec.ema_decay else None  # from the loaded weights, with init_from
    noise = torch.Generator(device=device).manual_seed(spec.seed * 1000 + rank)
    step = restore(spec, sana, engine, data, ema, noise, prior)
    emit("start", step=step, steps=spec.steps, model=spec.model, job_type=spec.type, world_size=world,
         images=len(data.records), trainable_params=sum(_numel(p) for p in params), device=str(device),
         mixed_precision=spec.mixed_precision, compile=spec.compile,  # as decided for the device
         initialized_from=str(init_from) if init_from else None)

    micro_batches = _micro_batches(data, prior, rank, world, device)
    timer = StepTimer()
    guard = DivergenceGuard(spec, device, model_spec.dtype)
    while step < spec.steps:
        timer.start()
        try:
            losses, grad_norm = optimizer_step(engine, spec, model_spec.flow_shift, noise, micro_batches)
        except LossScaleExhausted:
            raise guard.loss_scale_exhausted(step + 1) from None
        if ema is not None:
            ema.update()
        step += 1
        guard.observe(step, [loss.total for loss in losses], grad_norm)
        if step % spec.log_every == 0 or step == spec.steps:
            guard.check(step, world)
            fields = {"loss": _mean([loss.total for loss in losses]), "lr": engine.lr(),
                      "grad_norm": round(float(grad_norm), 6), **_prior_fields(losses)}  # reading them syncs
            samples = spec.batch_size * world * spec.gradient_accumulation_steps
            emit("step", step=step, **fields, samples_per_s=round(samples / timer.seconds_per_step(), 3),
                 memory_mb=_memory_mb(device))
        due = spec.checkpoint_interval and step % spec.checkpoint_interval == 0
        scheduled = bool(due) or step == spec.steps
        stopping = _any_rank(stop.requested, world, device)
        if scheduled or stopping:
            guard.check(step, world)  # a checkpoint never holds diverged weights
            save_checkpoint(spec, sana, engine, data, ema, noise, step, float(losses[-1].total), with_samples=scheduled,
                            prior_data=prior)
            timer.restart()
        if stopping and step < spec.steps:
            emit("stopped", step=step, reason="SIGTERM", checkpointed=True)
            return
    emit("done", step=step)


class StepTimer:
    """Seconds per step over the steps since the last reading or checkpoint (neither is counted:
    `restart` after a checkpoint). Read it after a host sync, or it times only the queueing of GPU
    work."""

    def __init__(self) -> None:
        self.started: float | None = None
        self.steps = 0

    def start(self) -> None:
        if self.started is None:
            self.started = time.perf_counter()
        self.steps += 1

    def seconds_per_step(self) -> float:
        assert self.started is not None, "start() a step first"
        seconds = (time.perf_counter() - self.started) / self.steps
        self.restart()
        return seconds

    def restart(self) -> None:
        self.started, self.steps = None, 0


def trainer_engine(spec: TrainSpec, transformer: SanaTransformer2DModel, device: torch.device,
                   init_from: Path | None = None) -> tuple[list[torch.nn.Parameter], Engine]:
    """The trained parameters (an adapter's, or all) and the engine that steps them; `spec` decided
    for the device (TrainSpec.for_device). The benchmark (bench/training.py) builds its runs here.
    `init_from`: a checkpoint whose weights they start from, loaded before the engine exists, as
    DeepSpeed copies the weights (ZeRO-3: partitions them) when it starts."""
    params = _trainable(spec, transformer)
    if init_from is not None:
        load_weights(spec, transformer, init_from)
    return params, _engine(spec, transformer, params, device)


MicroBatch = tuple[TrainingBatch, TrainingBatch | None]  # instances; class images (prior preservation)


def optimizer_step(engine: Engine, spec: TrainSpec, default_shift: float, noise: torch.Generator,
                   micro_batches: Iterator[MicroBatch]) -> tuple[list[Loss], torch.Tensor | float]:
    """Forward and backward over `gradient_accumulation_steps` micro-batches, then one optimizer
    step; returns each micro-batch's loss and the grad norm, unread (tensors on the device)."""
    losses = [_loss(engine, instance, classes, spec, default_shift, noise)
              for instance, classes in itertools.islice(micro_batches, spec.gradient_accumulation_steps)]
    return losses, engine.step()


def _micro_batches(data: TrainingData, prior: TrainingData | None, rank: int, world: int,
                   device: torch.device) -> Iterator[MicroBatch]:
    class_batches = iter(prior) if prior is not None else None
    for batch in data:
        instance = _on_device(batch, rank, world, device)
        yield instance, _on_device(next(class_batches), rank, world, device) if class_batches else None


def _any_rank(requested: bool, world: int, device: torch.device) -> bool:
    """Whether any rank was asked to stop. Ranks (on several nodes above all) see SIGTERM at
    different steps, and a checkpoint is a collective that every rank enters at the same step."""
    if world == 1:
        return requested
    import torch.distributed as dist

    flag = torch.tensor([1.0 if requested else 0.0], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def _training_data(spec: TrainSpec, sana: Sana, device: torch.device, world: int) -> TrainingData:
    records = read_image_folder(spec.data_dir)
    if not records:
        raise ValueError(f"no images in {spec.data_dir}")
    choices = [_caption_choices(spec, record) for record in records]
    cache_dir = spec.cache_dir or spec.output_dir / "cache"
    key = f"{spec.model}:{_fingerprint(spec.model_path)}"
    encode_images, encode_texts = encoders(sana, device)

    resolution = spec.resolution or sana.spec.resolution
    # Rank 0 builds the caches; the others wait, then read them.
    with _rank_zero_first(world):
        latents = build_latent_cache(records, resolution, encode_images, cache_dir, flip=spec.flip, key=key)
        texts = build_text_cache([text for options in choices for text, _ in options], encode_texts, cache_dir,
                                 key=key)
    emit("cache", images=len(latents), captions=len(texts), latents_reused=latents.reused, texts_reused=texts.reused)
    return TrainingData(records, latents, texts, batch_size=spec.batch_size * world, seed=spec.seed,
                        caption_dropout=spec.caption_dropout, flip=spec.flip, choices=choices)


def _caption_choices(spec: TrainSpec, record: ImageRecord) -> list[tuple[str, float]]:
    """What the image may train on: its caption(s) by the spec's choice, each with the trigger word
    and, where empty, the instance prompt (texts that become equal are merged)."""
    merged: dict[str, float] = {}
    for text, probability in caption_choices(record.caption, record.scored, choice=spec.caption_choice,
                                             temperature=spec.caption_temperature):
        caption = spec.caption_for(text)
        merged[caption] = merged.get(caption, 0.0) + probability
    return list(merged.items())


def _prior_data(spec: TrainSpec, sana: Sana, device: torch.device, world: int) -> TrainingData | None:
    """Prior preservation's class images as batches as large as the instances' (None without it)."""
    if spec.prior is None:
        return None
    with _rank_zero_first(world):  # rank 0 generates and caches; the others then read
        return class_data(spec, sana, device, key=f"{spec.model}:{_fingerprint(spec.model_path)}",
                          batch_size=spec.batch_size * world)


@contextmanager
def _rank_zero_first(world: int) -> Iterator[None]:
    if world > 1 and not is_main_process():
        dist.barrier()
    yield
    if world > 1 and is_main_process():
        dist.barrier()


def _fingerprint(model_path: Path) -> str:
    """Changes when the base model's weights change (their sizes and modification times)."""
    files = sorted(model_path.rglob("*.safetensors"))
    return ",".join(f"{f.relative_to(model_path)}:{f.stat().st_size}:{int(f.stat().st_mtime)}" for f in files)


def _trainable(spec: TrainSpec, transformer: SanaTransformer2DModel) -> list[torch.nn.Parameter]:
    transformer.train()
    if spec.gradient_checkpointing:
        transformer.enable_gradient_checkpointing()
    if spec.type == "lora":
        if spec.mixed_precision in AUTOCAST:
            # The frozen base is never updated, so it needs no fp32 copy; held in the autocast dtype it
            # is not cast again in every layer of every step (diffusers' LoRA scripts do the same).
            transformer.to(AUTOCAST[spec.mixed_precision])
        return add_lora(transformer, spec.lora)
    transformer.requires_grad_(True)
    return list(transformer.parameters())


def _engine(spec: TrainSpec, transformer: torch.nn.Module, params: list[torch.nn.Parameter],
            device: torch.device) -> Engine:
    if spec.type == "full":
        from sanacloud.model.train.zero import ZeroEngine

        return ZeroEngine(transformer, params, spec, device)
    return PlainEngine(transformer, params, spec, device)


def _shard(batch: tuple[torch.Tensor, ...], rank: int, world: int) -> tuple[torch.Tensor, ...]:
    """This rank's part of a global batch (all of it when the batch is too small to split)."""
    size = len(batch[0])
    per = size // world
    if per == 0:
        return tuple(batch)
    return tuple(t[rank * per:(rank + 1) * per] for t in batch)


def _on_device(batch: TrainingBatch, rank: int, world: int, device: torch.device) -> TrainingBatch:
    """This rank's share, copied to the device; to a GPU from pinned memory without a wait (a copy
    from pageable memory would make the host wait for all queued GPU work at every micro-batch)."""
    tensors = _shard(batch, rank, world)
    if device.type == "cuda":
        return TrainingBatch(*(t.pin_memory().to(device, non_blocking=True) for t in tensors))
    return TrainingBatch(*(t.to(device) for t in tensors))


class Loss(NamedTuple):
    """A micro-batch's losses, detached and still on the device."""

    total: torch.Tensor  # instance + loss_weight * prior: what is minimised
    instance: torch.Tensor
    prior: torch.Tensor | None  # the class images' MSE, with prior preservation


def _loss(engine: Engine, instance: TrainingBatch, classes: TrainingBatch | None, spec: TrainSpec,
          default_shift: float, generator: torch.Generator) -> Loss:
    """One micro-step's backward: the instances' flow-matching MSE, plus (prior preservation) the
    class images' MSE times its weight, as diffusers' DreamBooth scripts."""
    batches = [instance] if classes is None else [instance, classes]
    errors = _errors(engine, batches, spec.flow_shift or default_shift, spec, generator)
    loss = errors[0] if classes is None else errors[0] + _prior_weight(spec) * errors[1]
    engine.backward(loss)
    return Loss(loss.detach(), errors[0].detach(), errors[1].detach() if classes is not None else None)


def _errors(engine: Engine, batches: list[TrainingBatch], shift: float, spec: TrainSpec,
            generator: torch.Generator) -> list[torch.Tensor]:
    """Each batch's MSE between predicted and target velocity, from one forward over all of them when
    their latents (and text embeddings) have one shape, else one forward each."""
    if len({(b.latents.shape[1:], b.text_emb.shape[1:]) for b in batches}) > 1:
        return [_errors(engine, [batch], shift, spec, generator)[0] for batch in batches]
    x0 = torch.cat([b.latents for b in batches])  # (B,C,h,w)
    noise = torch.randn(x0.shape, generator=generator, device=x0.device)
    sigmas = flow.sample_sigmas(len(x0), shift=shift, mean=spec.logit_mean, std=spec.logit_std, generator=generator,
                                device=x0.device)
    with engine.autocast():
        prediction = engine.forward(flow.noisy(x0, noise, sigmas),
                                   encoder_hidden_states=torch.cat([b.text_emb for b in batches]),
                                   encoder_attention_mask=torch.cat([b.text_mask for b in batches]),
                                   timestep=sigmas * flow.TIMESTEP_SCALE, return_dict=False)[0]
    sizes = [len(b.latents) for b in batches]
    pairs = zip(prediction.float().split(sizes), flow.velocity_target(x0, noise).split(sizes), strict=True)
    return [F.mse_loss(predicted, target) for predicted, target in pairs]


def _prior_weight(spec: TrainSpec) -> float:
    return spec.prior.loss_weight if spec.prior else 0.0


def _prior_fields(losses: list[Loss]) -> dict[str, float]:
    """The step event's instance_loss and prior_loss, with prior preservation."""
    priors = [loss.prior for loss in losses if loss.prior is not None]
    if not priors:
        return {}
    return {"instance_loss": _mean([loss.instance for loss in losses]), "prior_loss": _mean(priors)}


def _mean(values: list[torch.Tensor]) -> float:
    return round(sum(float(value) for value in values) / len(values), 6)


def _numel(param: torch.nn.Parameter) -> int:
    """Elements of a parameter, also when ZeRO-3 has partitioned it away from this rank."""
    return int(getattr(param, "ds_numel", param.numel()))


def _memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
