"""Checkpoint folders: `output_dir/checkpoints/step-000123/`, written whole or not at all.

A folder is built under a `.tmp` name and renamed when complete, so a run killed mid-write
leaves the previous checkpoint as the latest. Each holds what exact resume needs (weights,
optimizer, LR schedule, RNG states, step, data position) and what a user wants (the exported
LoRA or transformer, and sample images).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sanacloud.model.train import checkpoint_layout as layout


def checkpoints_dir(output_dir: Path) -> Path:
    return output_dir / layout.CHECKPOINTS_DIR


def folder_for(output_dir: Path, step: int) -> Path:
    return checkpoints_dir(output_dir) / layout.step_folder(step)


def staging_for(output_dir: Path, step: int) -> Path:
    staging = folder_for(output_dir, step).with_suffix(".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def publish(staging: Path) -> Path:
    final = staging.with_suffix("")
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    return final


def completed(output_dir: Path) -> list[tuple[int, Path]]:
    """(step, folder) of every complete checkpoint, oldest first."""
    root = checkpoints_dir(output_dir)
    found = [(step, p) for p in root.iterdir() if (step := layout.step_of(p.name)) is not None and p.is_dir()] \
        if root.is_dir() else []
    return sorted(found)


def latest(output_dir: Path) -> tuple[int, Path] | None:
    done = completed(output_dir)
    return done[-1] if done else None


def prune(output_dir: Path, keep: int) -> list[int]:
    """Delete all but the newest `keep` checkpoints (and stale staging folders); returns deleted steps."""
    done = completed(output_dir)
    doomed = done[:-keep] if keep else done
    for _, folder in doomed:
        shutil.rmtree(folder)
    for stale in checkpoints_dir(output_dir).glob("*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    return [step for step, _ in doomed]
