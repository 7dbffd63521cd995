"""Aspect-ratio buckets, as Sana trains: each image goes to the bucket nearest its aspect ratio.

Sana's tables (ASPECT_RATIO_512 / _1024 / _2048 in its `diffusion/data/datasets/utils.py`) are one
pattern scaled: sides are multiples of a step of R/16 (32 at 512, 64 at 1024, 128 at 2048), the
area lies within 10% below R² and never above, and height/width runs from 1/4 to 4. `buckets_for`
generates that pattern for any R that is a multiple of 32, so 512/1024/2048 give Sana's tables (plus
the one tall bucket Sana's hand-written tables lack, 21x11 steps, the mirror of their 11x21), and
small resolutions for tiny models still get buckets whose sides are multiples of 32 (the DC-AE
downsamples 32x).

A bucket is (height, width) in pixels.
"""

from __future__ import annotations

import math
import random
from typing import Literal

from PIL import Image

Bucket = tuple[int, int]  # (height, width)
MULTIPLE = 32
MAX_ASPECT = 4.0
MIN_AREA_FRACTION = 0.9  # of R²


def buckets_for(resolution: int) -> list[Bucket]:
    """All buckets for base resolution R, sorted by aspect ratio (height/width), the square one exactly R x R."""
    if resolution < MULTIPLE or resolution % MULTIPLE:
        raise ValueError(f"resolution must be a positive multiple of {MULTIPLE}, not {resolution}")
    step = resolution // 16 if (resolution // 16) % MULTIPLE == 0 else MULTIPLE
    units = resolution // step  # the square bucket is units x units steps
    area, lowest = units * units, MIN_AREA_FRACTION * units * units
    found: set[Bucket] = set()
    for short in range(1, units + 1):
        for long in range(short, int(short * MAX_ASPECT) + 1):
            if lowest <= short * long <= area:
                found |= {(short * step, long * step), (long * step, short * step)}
    return sorted(found, key=lambda bucket: bucket[0] / bucket[1])


def nearest_bucket(width: int, height: int, buckets: list[Bucket]) -> Bucket:
    """The bucket whose aspect ratio is nearest the image's (in log space, so tall and wide are symmetric).

    Ties go to the larger bucket, then the first in `buckets`.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, not {width}x{height}")
    if not buckets:
        raise ValueError("no buckets to choose from")
    aspect = math.log(height / width)
    return min(buckets, key=lambda bucket: (round(abs(math.log(bucket[0] / bucket[1]) - aspect), 9),
                                            -bucket[0] * bucket[1]))


def resize_and_crop(image: Image.Image, bucket: Bucket, crop: Literal["center", "random"] = "center",
                    rng: random.Random | None = None) -> Image.Image:
    """Scale `image` to cover the bucket (keeping its aspect ratio), then crop to exactly the bucket's size.

    crop="random" draws the offset from `rng` (required); "center" takes the middle.
    """
    height, width = bucket
    scale = max(width / image.width, height / image.height)
    new_width = max(width, round(image.width * scale))
    new_height = max(height, round(image.height * scale))
    if (new_width, new_height) != image.size:
        resample = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC
        image = image.resize((new_width, new_height), resample)
    if crop == "center":
        left, top = (new_width - width) // 2, (new_height - height) // 2
    elif crop == "random":
        if rng is None:
            raise ValueError('crop="random" needs an rng')
        left, top = rng.randint(0, new_width - width), rng.randint(0, new_height - height)
    else:
        raise ValueError(f'crop must be "center" or "random", not {crop!r}')
    return image.crop((left, top, left + width, top + height))
