"""Text to image with SanaPipeline: Flow-DPM-Solver (or Flow-Euler), CFG, seeds, batches."""

from __future__ import annotations

import time

import torch
from diffusers import SanaPipeline
from PIL import Image

from sanacloud.model.components import Sana
from sanacloud.model.sampling.schedulers import Solver
from sanacloud.model.text import COMPLEX_HUMAN_INSTRUCTION


def make_pipeline(sana: Sana, solver: Solver = "dpm", flow_shift: float | None = None) -> SanaPipeline:
    pipe = sana.pipeline(solver, flow_shift)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@torch.no_grad()
def generate(pipe: SanaPipeline, sana: Sana, prompts: list[str], *, seeds: list[int], steps: int = 20,
             guidance: float = 4.5, resolution: int | None = None, negative_prompt: str = "",
             timings: dict[str, float] | None = None) -> list[Image.Image]:
    """One image per prompt; image i comes from `seeds[i]` alone, whatever else is in the batch.

    Denoising and decoding are timed apart into `timings` (denoise_s, decode_s) when given; the
    images are exactly SanaPipeline's (it decodes the same way).
    """
    if len(seeds) != len(prompts):
        raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
    side = resolution or sana.spec.resolution
    device = pipe.transformer.device
    generators = [torch.Generator(device="cpu").manual_seed(seed) for seed in seeds]
    latents = torch.stack([torch.randn(sana.transformer.config.in_channels, side // 32, side // 32, generator=g)
                           for g in generators]).to(device, pipe.transformer.dtype)
    started = time.perf_counter()
    denoised = pipe(prompt=prompts, negative_prompt=negative_prompt, num_inference_steps=steps,
                    guidance_scale=guidance, height=side, width=side, latents=latents,
                    max_sequence_length=sana.spec.max_tokens,
                    complex_human_instruction=COMPLEX_HUMAN_INSTRUCTION if sana.spec.use_chi else None,
                    use_resolution_binning=False, output_type="latent").images
    decoding = time.perf_counter()
    decoded = pipe.vae.decode(denoised.to(pipe.vae.dtype) / pipe.vae.config.scaling_factor, return_dict=False)[0]
    images = pipe.image_processor.postprocess(decoded, output_type="pil")
    if timings is not None:
        timings["denoise_s"] = round(decoding - started, 4)
        timings["decode_s"] = round(time.perf_counter() - decoding, 4)
    return list(images)
