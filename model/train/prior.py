"""Prior preservation (DreamBooth): class images, captioned with the class prompt alone, trained
alongside the instance images so that the model keeps what it knew of the class.

    folder = class_images(spec, sana, key=key)   # uploaded + generated (on sana's device), written once
    data = class_data(spec, sana, device, key=key, batch_size=spec.batch_size * world)

As diffusers' `train_dreambooth_lora_sana.py` (`--with_prior_preservation`): the first
`num_class_images` uploaded images (sorted) are used, and the base model generates the rest from the
class prompt before training. The set lives in one cache folder named by a fingerprint of everything
that decides its images (base model, prompt, count, resolution, seed, sampler settings, the uploaded
files' bytes), built in a temporary folder and renamed into place, so a resumed run or a second job
reuses it and never regenerates.

Class captions carry no trigger word and no instance prompt: they are what the model knew before.
Their caption dropout is 0 (diffusers drops none either): the class loss is there to keep the
model's answer to the class prompt, and the instance data's dropout already trains the empty prompt.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from PIL import Image

from sanacloud.model.components import Sana
from sanacloud.model.data.batches import seeded_rng
from sanacloud.model.data.cache import build_latent_cache, build_text_cache
from sanacloud.model.data.folder import ImageRecord, read_image_folder
from sanacloud.model.data.store import build_once, file_sha256, fingerprint
from sanacloud.model.data.training import TrainingData
from sanacloud.model.metadata_jsonl import METADATA_NAME
from sanacloud.model.sampling.generate import generate, make_pipeline
from sanacloud.model.train.encoders import encoders
from sanacloud.model.train.events import emit
from sanacloud.model.train.spec import PriorSpec, TrainSpec

GENERATE_BATCH = 4  # class images per pipeline call


def class_images(spec: TrainSpec, sana: Sana, *, key: str) -> Path:
    """The folder of the class images to train on (with a metadata.jsonl captioning each with the
    class prompt): the uploaded ones, then generated ones up to `num_class_images`."""
    prior = _prior(spec)
    uploaded = _uploaded(prior)
    missing = prior.num_class_images - len(uploaded)
    resolution = spec.resolution or sana.spec.resolution
    seeds = [class_seed(spec.seed, i) for i in range(missing)]
    fp = fingerprint({"kind": "class_images", "key": key, "prompt": prior.class_prompt, "count": missing,
                      "resolution": resolution, "seeds": seeds, "steps": spec.validation_steps,
                      "guidance": spec.guidance_scale, "uploaded": [file_sha256(r.path) for r in uploaded]})

    def build(folder: Path) -> dict[str, object]:
        names = [f"uploaded-{i:05d}{record.path.suffix.lower()}" for i, record in enumerate(uploaded)]
        for record, name in zip(uploaded, names, strict=True):
            shutil.copyfile(record.path, folder / name)
        for start in range(0, missing, GENERATE_BATCH):
            chunk = seeds[start:start + GENERATE_BATCH]
            for offset, image in enumerate(_generate(spec, sana, prior.class_prompt, chunk, resolution)):
                names.append(f"generated-{start + offset:05d}.png")
                image.save(folder / names[-1])
        lines = [json.dumps({"file_name": name, "text": prior.class_prompt}, ensure_ascii=False) for name in names]
        (folder / METADATA_NAME).write_text("\n".join(lines) + "\n", "utf-8")
        return {"kind": "class_images", "prompt": prior.class_prompt, "uploaded": len(uploaded),
                "generated": missing, "shards": [*names, METADATA_NAME]}

    folder, reused = build_once(spec.cache_dir or spec.output_dir / "cache", f"class-images-{fp[:24]}", fp, build)
    emit("class_images", uploaded=len(uploaded), generated=0 if reused else missing, reused=reused,
         path=str(folder))
    return folder


def class_data(spec: TrainSpec, sana: Sana, device: torch.device, *, key: str, batch_size: int) -> TrainingData:
    """The class images' batches: latents and text cached like the instances', an order of their own
    (seeded from spec.seed) that the checkpoint saves, no caption dropout."""
    prior = _prior(spec)
    records = read_image_folder(class_images(spec, sana, key=key))
    cache_dir = spec.cache_dir or spec.output_dir / "cache"
    encode_images, encode_texts = encoders(sana, device)

    resolution = spec.resolution or sana.spec.resolution
    latents = build_latent_cache(records, resolution, encode_images, cache_dir, flip=spec.flip, key=key)
    texts = build_text_cache([prior.class_prompt], encode_texts, cache_dir, key=key)
    emit("cache", prior=True, images=len(latents), captions=len(texts), latents_reused=latents.reused,
         texts_reused=texts.reused)
    choices = [[(prior.class_prompt, 1.0)] for _ in records]
    return TrainingData(records, latents, texts, batch_size=batch_size, seed=class_seed(spec.seed, -1),
                        caption_dropout=0.0, flip=spec.flip, choices=choices)


def class_seed(seed: int, index: int) -> int:
    """Class image `index`'s generation seed (index -1: the class batches' order), from the run's seed."""
    return seeded_rng("class-images", seed, index).randrange(2**31)


def _prior(spec: TrainSpec) -> PriorSpec:
    if spec.prior is None:
        raise ValueError("the spec has no prior section")
    return spec.prior


def _uploaded(prior: PriorSpec) -> list[ImageRecord]:
    if prior.class_data_dir is None:
        return []
    return read_image_folder(prior.class_data_dir)[:prior.num_class_images]


def _generate(spec: TrainSpec, sana: Sana, prompt: str, seeds: list[int], resolution: int) -> list[Image.Image]:
    was_training = sana.transformer.training
    sana.transformer.eval()
    try:
        return generate(make_pipeline(sana), sana, [prompt] * len(seeds), seeds=seeds, steps=spec.validation_steps,
                        guidance=spec.guidance_scale, resolution=resolution)
    finally:
        sana.transformer.train(was_training)
