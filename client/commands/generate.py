"""`sanacloud generate ENDPOINT "prompt"`: images from an endpoint, saved as PNGs, with the timings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from sanacloud.client.commands.session import Cli, api_command


@api_command
def generate(
    cli: Cli,
    endpoint_id: Annotated[str, typer.Argument(help="the endpoint's id")],
    prompt: Annotated[str, typer.Argument(help="what to draw")],
    output: Annotated[Path, typer.Option("--output", "-o", help="the folder to save the PNGs in")] = Path("."),
    negative_prompt: Annotated[str | None, typer.Option(help="what not to draw")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed (default: chosen and shown)")] = None,
    steps: Annotated[int | None, typer.Option(help="sampling steps (default: the endpoint's)")] = None,
    guidance: Annotated[float | None, typer.Option(help="guidance scale (default: the endpoint's)")] = None,
    resolution: Annotated[int | None, typer.Option(help="image side in pixels (default: the endpoint's)")] = None,
    sampler: Annotated[Literal["dpm", "euler"] | None, typer.Option(help="dpm (Flow-DPM-Solver) or euler")] = None,
    num_images: Annotated[int | None, typer.Option(help="images to make")] = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the images")] = 300,
) -> None:
    """Generate images, save them as PNGs in --output, and print their paths and the timings."""
    generation = cli.client.endpoints.generate(
        endpoint_id, prompt, negative_prompt=negative_prompt, seed=seed, steps=steps, guidance=guidance,
        resolution=resolution, sampler=sampler, num_images=num_images, timeout=timeout)
    if generation.status != "succeeded":
        raise cli.fail(f"generation {generation.id} {generation.status}: {generation.error or 'no images'}")
    paths = generation.save(output)
    if cli.out.as_json:
        cli.out.json({**generation.model_dump(mode="json"), "files": [str(path) for path in paths]})
        return
    for path in paths:
        cli.out.line(str(path))
    params = generation.params
    timings = ", ".join(f"{name.removesuffix('_s')} {value:.2f} s" for name, value in generation.timings.items()
                        if name.endswith("_s") and isinstance(value, int | float))
    cli.out.note(f"generation {generation.id}: seed {params.get('seed')}, {params.get('steps')} steps; {timings}")
