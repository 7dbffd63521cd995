"""The data side of fine-tuning: an image folder with captions, aspect-ratio buckets, a resumable batch
order, and cached VAE latents and text embeddings (so training steps never run the encoders)."""

from sanacloud.model.data.batches import BatchPlan, PlannedBatch, drop_captions
from sanacloud.model.data.buckets import Bucket, buckets_for, nearest_bucket, resize_and_crop
from sanacloud.model.data.cache import (
    EncodeImages,
    EncodeTexts,
    LatentCache,
    TextCache,
    build_latent_cache,
    build_text_cache,
)
from sanacloud.model.data.folder import ImageRecord, load_rgb, read_image_folder
from sanacloud.model.data.training import TrainingBatch, TrainingData

__all__ = [
    "BatchPlan",
    "Bucket",
    "EncodeImages",
    "EncodeTexts",
    "ImageRecord",
    "LatentCache",
    "PlannedBatch",
    "TextCache",
    "TrainingBatch",
    "TrainingData",
    "buckets_for",
    "build_latent_cache",
    "build_text_cache",
    "drop_captions",
    "load_rgb",
    "nearest_bucket",
    "read_image_folder",
    "resize_and_crop",
]
