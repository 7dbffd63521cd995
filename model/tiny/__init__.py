"""sana-tiny: the small Sana the platform trains itself and ships (`weights/`, with its model card)."""

from pathlib import Path

WEIGHTS = Path(__file__).parent / "weights"  # diffusers format; read without importing torch
MODEL_CARD = "README.md"  # in WEIGHTS, written by hand and kept across rebuilds
