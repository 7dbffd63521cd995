"""A captioned image set to try the platform with: sana-tiny's scenes that show a concept it never saw.

    python -m sanacloud.model.tiny.sample_data pink.zip                 # 200 scenes with pink, zipped
    python -m sanacloud.model.tiny.sample_data more/ --images 2 --seed 1  # a folder of images + metadata.jsonl

A zip holds one folder named after it (`pink/0000.png`, `pink/metadata.jsonl`), so files from
several sample sets never share a name in one dataset.
"""

from __future__ import annotations

import argparse
import tempfile
import zipfile
from pathlib import Path

from sanacloud.model.tiny.shapes import ALL_COLORS, BASE_SHAPES, HELD_OUT_COLORS, HELD_OUT_SHAPES, write_dataset

RESOLUTION = 128  # sana-tiny's native resolution


def write_sample(out: Path, *, images: int, concept: str, seed: int) -> Path:
    """Write the set to `out` (a .zip, or else a folder); returns `out`."""
    shapes = (*BASE_SHAPES, *HELD_OUT_SHAPES) if concept in HELD_OUT_SHAPES else BASE_SHAPES
    if out.suffix.lower() != ".zip":
        write_dataset(out, images, RESOLUTION, seed, ALL_COLORS, shapes, require_any=(concept,))
        return out
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / out.stem
        write_dataset(folder, images, RESOLUTION, seed, ALL_COLORS, shapes, require_any=(concept,))
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.iterdir()):
                archive.write(path, f"{out.stem}/{path.name}")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sanacloud.model.tiny.sample_data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="a .zip file, or a folder")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--concept", choices=(*HELD_OUT_COLORS, *HELD_OUT_SHAPES), default=HELD_OUT_COLORS[0],
                        help="the held-out word every scene shows")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.images < 1:
        parser.error("--images must be at least 1")
    path = write_sample(args.out, images=args.images, concept=args.concept, seed=args.seed)
    print(f"wrote {args.images} captioned {RESOLUTION}px scenes showing {args.concept!r} to {path}")


if __name__ == "__main__":
    main()
