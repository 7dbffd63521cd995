"""The fine-tuning data pipeline: image folder, buckets, batch order, caches, training batches.

Encoders are trivial stand-ins that count their work: a "VAE" that average-pools by 32 and a text
encoder that derives embeddings from a hash of the caption.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from sanacloud.model.data import (
    BatchPlan,
    ImageRecord,
    TrainingData,
    buckets_for,
    build_latent_cache,
    build_text_cache,
    drop_captions,
    nearest_bucket,
    read_image_folder,
    resize_and_crop,
)
from sanacloud.model.data.buckets import Bucket
from sanacloud.model.imaging import CONVERSION_VERSION

RES = 128  # buckets (128,128), (96,160), (160,96), (64,256), (256,64)


class FakeVAE:
    """(B,3,H,W) -> (B,3,H/32,W/32); counts images; raises after `fail_after` images when set."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.images = 0
        self.fail_after = fail_after

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        if self.fail_after is not None and self.images + len(pixels) > self.fail_after:
            raise RuntimeError("encoder died")
        self.images += len(pixels)
        return F.avg_pool2d(pixels, 32)


class FakeTextEncoder:
    """L=8, D=4, right-padded; the embedding of a caption is a hash of it. Counts captions."""

    length, dim = 8, 4

    def __init__(self) -> None:
        self.captions: list[str] = []

    def __call__(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        self.captions += captions
        embeddings = torch.full((len(captions), self.length, self.dim), -7.0)  # -7: the "pad token" embedding
        mask = torch.zeros(len(captions), self.length, dtype=torch.long)
        for row, caption in enumerate(captions):
            tokens = min(self.length, 1 + len(caption.encode()) // 4)
            digest = hashlib.sha256(caption.encode()).digest()
            values = torch.tensor(list(digest), dtype=torch.float32)[: tokens * self.dim] / 255.0
            embeddings[row, :tokens] = values.reshape(tokens, self.dim)
            mask[row, :tokens] = 1
        return embeddings, mask


def save_image(path: Path, width: int, height: int, seed: int = 0, fmt: str | None = None) -> Path:
    generator = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (height, width, 3), generator=generator, dtype=torch.uint8).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format=fmt)
    return path


def write_metadata(root: Path, rows: list[dict[str, object]]) -> None:
    (root / "metadata.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), "utf-8")


def make_dataset(root: Path) -> list[ImageRecord]:
    """Six images: square, wide, tall; two share a caption, one has none."""
    sizes = [(64, 64), (100, 100), (200, 110), (300, 180), (90, 170), (70, 250)]
    names = [f"img{i}.png" for i in range(len(sizes))]
    for i, (name, (width, height)) in enumerate(zip(names, sizes, strict=True)):
        save_image(root / name, width, height, seed=i)
    captions = ["a red square", "a red square", "a wide field", "a wide sea", "a tall tree", ""]
    write_metadata(root, [{"file_name": n, "text": c} for n, c in zip(names, captions, strict=True)])
    return read_image_folder(root)


# --- the folder -------------------------------------------------------------------------------------------------


def test_reads_metadata_jsonl_and_sub_folders(tmp_path: Path) -> None:
    save_image(tmp_path / "b.png", 40, 30)
    save_image(tmp_path / "cats" / "a.jpg", 30, 40, fmt="JPEG")
    save_image(tmp_path / "cats" / "c.webp", 20, 20, fmt="WEBP")
    save_image(tmp_path / "d.png", 20, 20)
    (tmp_path / "d.txt").write_text("from the sidecar\n", "utf-8")
    (tmp_path / "b.txt").write_text("ignored: metadata wins", "utf-8")
    write_metadata(tmp_path, [{"file_name": "cats/a.jpg", "text": " a cat "}, {"file_name": "b.png", "text": "b"}])
    (tmp_path / "notes.md").write_text("not an image", "utf-8")

    records = read_image_folder(tmp_path)

    assert [r.relative_to(tmp_path.resolve()) for r in records] == ["b.png", "cats/a.jpg", "cats/c.webp", "d.png"]
    assert [r.caption for r in records] == ["b", "a cat", "", "from the sidecar"]
    assert [(r.width, r.height) for r in records] == [(40, 30), (30, 40), (20, 20), (20, 20)]
    assert read_image_folder(tmp_path) == records  # deterministic



def test_a_metadata_line_names_an_image_whatever_its_extension(tmp_path: Path) -> None:
    """The platform accepts a PNG named scan.jfif (content decides the format) and writes its dataset so."""
    save_image(tmp_path / "scan.jfif", 40, 30, fmt="PNG")
    save_image(tmp_path / "unlisted.jfif", 40, 30, fmt="PNG")
    write_metadata(tmp_path, [{"file_name": "scan.jfif", "text": "a scan"}])
    records = read_image_folder(tmp_path)
    assert [(r.path.name, r.caption, r.width) for r in records] == [("scan.jfif", "a scan", 40)]

def test_reads_sidecars_without_metadata(tmp_path: Path) -> None:
    save_image(tmp_path / "x" / "one.png", 32, 32)
    save_image(tmp_path / "two.jpeg", 32, 32, fmt="JPEG")
    (tmp_path / "x" / "one.txt").write_bytes("\ufeffune légende".encode())
    records = read_image_folder(tmp_path)
    assert [(r.path.name, r.caption) for r in records] == [("two.jpeg", ""), ("one.png", "une légende")]


@pytest.mark.parametrize(("data", "message"), [
    ("café au lait".encode("latin-1"),
     r"one\.txt': caption is not valid UTF-8 text \(invalid continuation byte at byte 3\); save it as UTF-8"),
    (b"a\x00cat", r"one\.txt': caption contains a NUL character"),
])
def test_a_sidecar_the_upload_intake_would_reject_is_refused_with_its_reason(tmp_path: Path, data: bytes,
                                                                             message: str) -> None:
    """The trainer reads sidecars by the intake's rule (sanacloud.model.sidecar_captions), naming the file."""
    save_image(tmp_path / "one.png", 32, 32)
    (tmp_path / "one.txt").write_bytes(data)
    with pytest.raises(ValueError, match=message):
        read_image_folder(tmp_path)


def test_a_blank_sidecar_is_no_caption_and_its_case_does_not_matter(tmp_path: Path) -> None:
    save_image(tmp_path / "one.png", 32, 32)
    save_image(tmp_path / "two.png", 32, 32)
    (tmp_path / "one.TXT").write_bytes(b"\xef\xbb\xbf \t\r\n")
    (tmp_path / "two.Txt").write_bytes(b" two \r\n")
    assert [r.caption for r in read_image_folder(tmp_path)] == ["", "two"]


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", r"metadata.jsonl' line 2 is not valid JSON"),
    ('["a.png", "x"]', r"line 2 is not a JSON object"),
    ('{"text": "no name"}', r'line 2 has no "file_name"'),
    ('{"file_name": "a.png", "text": 3}', r'line 2: "text" must be a string'),
    ('{"file_name": "gone.png", "text": "x"}', r"line 2 names 'gone.png'.*not an image"),
    ('{"file_name": "../a.png", "text": "x"}', r"line 2: file_name '../a.png' must be a path inside"),
    ('{"file_name": "a.png", "text": "again"}', r"line 2 captions 'a.png' again \(already on .*line 1\)"),
])
def test_bad_metadata_names_the_line(tmp_path: Path, line: str, message: str) -> None:
    save_image(tmp_path / "a.png", 32, 32)
    (tmp_path / "metadata.jsonl").write_text('{"file_name": "a.png", "text": "ok"}\n' + line + "\n", "utf-8")
    with pytest.raises(ValueError, match=message):
        read_image_folder(tmp_path)


def test_unreadable_image_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="holds no images"):
        read_image_folder(tmp_path)
    (tmp_path / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(ValueError, match=r"broken\.png' cannot be read"):
        read_image_folder(tmp_path)


# --- buckets ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("resolution", [256, 512, 1024, 2048])
def test_bucket_tables(resolution: int) -> None:
    buckets = buckets_for(resolution)
    assert (resolution, resolution) in buckets
    for height, width in buckets:
        assert height % 32 == 0 and width % 32 == 0
        assert 0.9 * resolution**2 <= height * width <= resolution**2
        assert 0.25 <= height / width <= 4
        assert (width, height) in buckets
    assert min(h / w for h, w in buckets) == 0.25 and max(h / w for h, w in buckets) == 4


def test_bucket_tables_match_sana() -> None:
    sana_1024 = {(512, 2048), (576, 1792), (640, 1600), (704, 1408), (768, 1344), (832, 1216), (896, 1152),
                 (960, 1024), (1024, 1024), (1088, 960), (1216, 832), (1472, 704), (1856, 512), (2048, 512)}
    assert sana_1024 <= set(buckets_for(1024))
    assert len(buckets_for(1024)) == 41  # Sana's 40 plus (1344, 704), the mirror of its (704, 1344)
    assert buckets_for(512) == [(h // 2, w // 2) for h, w in buckets_for(1024)]
    assert buckets_for(2048) == [(h * 2, w * 2) for h, w in buckets_for(1024)]
    with pytest.raises(ValueError, match="multiple of 32"):
        buckets_for(100)


def test_nearest_bucket() -> None:
    buckets = buckets_for(1024)
    assert nearest_bucket(777, 777, buckets) == (1024, 1024)
    height, width = nearest_bucket(1600, 900, buckets)  # 16:9 landscape
    assert width > height and math.isclose(width / height, 16 / 9, rel_tol=0.06)
    assert nearest_bucket(900, 1600, buckets) == (width, height)  # tall mirrors wide
    assert nearest_bucket(10000, 100, buckets) == (512, 2048)  # beyond 4:1 goes to the extreme bucket


def test_resize_and_crop_gives_the_bucket_size() -> None:
    image = Image.new("RGB", (300, 180), (0, 0, 0))
    image.paste((255, 255, 255), (140, 80, 160, 100))  # a white spot in the middle
    for bucket in [(128, 128), (96, 160), (160, 96), (64, 256), (256, 64)]:
        for crop in ("center", "random"):
            out = resize_and_crop(image, bucket, crop, random.Random(0))
            assert out.size == (bucket[1], bucket[0])
    center = resize_and_crop(image, (128, 128), "center")
    assert center.getpixel((64, 64)) == (255, 255, 255)
    first = resize_and_crop(image, (64, 64), "random", random.Random(5))
    assert first.tobytes() == resize_and_crop(image, (64, 64), "random", random.Random(5)).tobytes()
    with pytest.raises(ValueError, match="needs an rng"):
        resize_and_crop(image, (64, 64), "random")


# --- batch order ------------------------------------------------------------------------------------------------


def plan_of(counts: dict[Bucket, int], batch_size: int, seed: int = 0) -> BatchPlan:
    buckets = [bucket for bucket, count in counts.items() for _ in range(count)]
    return BatchPlan(list(range(len(buckets))), buckets, batch_size, seed)


def test_batch_plan_covers_each_epoch_with_single_bucket_batches() -> None:
    counts: dict[Bucket, int] = {(128, 128): 8, (96, 160): 4, (160, 96): 12}
    plan = plan_of(counts, batch_size=4)
    bucket_of = [bucket for bucket, count in counts.items() for _ in range(count)]
    assert len(plan) == 6
    for epoch in range(3):
        batches = plan.epoch(epoch)
        assert sorted(i for b in batches for i in b.indices) == list(range(24))
        assert all(len(b.indices) == 4 and {bucket_of[i] for i in b.indices} == {b.bucket} for b in batches)
    assert [b.indices for b in plan.epoch(0)] != [b.indices for b in plan.epoch(1)]
    assert [b.indices for b in plan.epoch(1)] == [b.indices for b in plan_of(counts, 4).epoch(1)]
    assert [b.indices for b in plan.epoch(1)] != [b.indices for b in plan_of(counts, 4, seed=1).epoch(1)]


def test_batch_plan_partial_batches() -> None:
    plan = plan_of({(128, 128): 6, (96, 160): 3}, batch_size=4)
    batches = plan.epoch(0)
    assert sorted(len(b.indices) for b in batches) == [3, 4]  # 2 of the 6 dropped; the 3 kept as one batch
    seen = {i for epoch in range(20) for b in plan.epoch(epoch) for i in b.indices}
    assert seen == set(range(9))  # what is dropped changes between epochs
    tiny = plan_of({(128, 128): 2}, batch_size=8)
    assert [len(b.indices) for b in tiny.epoch(0)] == [2]


def test_batch_plan_resumes_exactly() -> None:
    plan = plan_of({(128, 128): 7, (96, 160): 5, (64, 256): 2}, batch_size=2, seed=3)
    stream = plan.batches_from(0, 0)
    straight = [next(stream) for _ in range(20)]  # crosses epoch boundaries (6 batches per epoch)
    for stop in (0, 5, 6, 13):
        epoch, position = plan.next_state(straight[stop])
        resumed = plan_of({(128, 128): 7, (96, 160): 5, (64, 256): 2}, batch_size=2, seed=3)
        again = resumed.batches_from(epoch, position)
        assert [next(again) for _ in range(19 - stop)] == straight[stop + 1:]


def test_caption_dropout() -> None:
    captions = ["a cat"] * 20000
    dropped = drop_captions(captions, 0.3, random.Random(1))
    assert abs(dropped.count("") / len(captions) - 0.3) < 0.015
    assert dropped == drop_captions(captions, 0.3, random.Random(1))
    assert drop_captions(["x", "y"], 0.0, random.Random(0)) == ["x", "y"]
    assert drop_captions(["x", "y"], 1.0, random.Random(0)) == ["", ""]


# --- caches -----------------------------------------------------------------------------------------------------


def test_latent_cache_encodes_once_and_is_reused(tmp_path: Path) -> None:
    records = make_dataset(tmp_path / "set")
    vae = FakeVAE()
    cache = build_latent_cache(records, RES, vae, tmp_path / "cache", flip=True, key="vae@1", batch_size=2)
    assert vae.images == 2 * len(records) and not cache.reused
    assert [cache.bucket(i) for i in range(len(records))] == [(128, 128), (128, 128), (96, 160), (96, 160),
                                                              (160, 96), (256, 64)]
    for i in range(len(records)):
        height, width = cache.bucket(i)
        assert cache.latent(i).shape == (3, height // 32, width // 32)
        assert torch.allclose(cache.latent(i, flipped=True), cache.latent(i).flip(-1), atol=1e-6)
    image = Image.open(records[2].path).convert("RGB")
    pixels = torch.from_numpy(np.array(resize_and_crop(image, (96, 160), "center"))).permute(2, 0, 1) / 127.5 - 1
    assert torch.allclose(cache.latent(2), F.avg_pool2d(pixels[None], 32)[0], atol=1e-5)

    again = FakeVAE()
    reused = build_latent_cache(records, RES, again, tmp_path / "cache", flip=True, key="vae@1")
    assert again.images == 0 and reused.reused
    assert all(torch.equal(reused.latent(i), cache.latent(i)) for i in range(len(records)))

    unflipped = FakeVAE()
    build_latent_cache(records, RES, unflipped, tmp_path / "cache", flip=False, key="vae@1")
    assert unflipped.images == len(records)


def test_latent_cache_invalidation(tmp_path: Path) -> None:
    records = make_dataset(tmp_path / "set")
    cache_dir = tmp_path / "cache"
    build_latent_cache(records, RES, FakeVAE(), cache_dir, flip=False, key="vae@1")

    new_caption = [ImageRecord(r.path, r.caption + "!", r.width, r.height) for r in records]
    for changed, key, resolution, expected in [(new_caption, "vae@1", RES, 0), (records, "vae@2", RES, 6),
                                               (records, "vae@1", 256, 6)]:
        vae = FakeVAE()
        build_latent_cache(changed, resolution, vae, cache_dir, flip=False, key=key)
        assert vae.images == expected, (key, resolution)

    data = bytearray(records[3].path.read_bytes())
    data[-5] ^= 1  # inside the IEND chunk's CRC: same pixels, different bytes
    records[3].path.write_bytes(bytes(data))
    vae = FakeVAE()
    build_latent_cache(records, RES, vae, cache_dir, flip=False, key="vae@1")
    assert vae.images == 6



def test_latent_cache_is_rebuilt_when_the_pixel_conversion_changes(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Same bytes, new conversion (e.g. 16-bit greys no longer white): the old latents must not be reused."""
    records = make_dataset(tmp_path / "set")
    build_latent_cache(records, RES, FakeVAE(), tmp_path / "cache", flip=False, key="vae@1")
    monkeypatch.setattr("sanacloud.model.data.cache.CONVERSION_VERSION", CONVERSION_VERSION + 1)
    vae = FakeVAE()
    assert not build_latent_cache(records, RES, vae, tmp_path / "cache", flip=False, key="vae@1").reused
    assert vae.images == len(records)

def test_interrupted_latent_build_is_rebuilt(tmp_path: Path) -> None:
    records = make_dataset(tmp_path / "set")
    cache_dir = tmp_path / "cache"
    with pytest.raises(RuntimeError, match="encoder died"):
        build_latent_cache(records, RES, FakeVAE(fail_after=3), cache_dir, flip=True, key="vae@1", batch_size=2)
    assert list(cache_dir.iterdir()) == []  # nothing that looks like a cache, no temporary left

    (cache_dir / ".latents-x.tmp-killed").mkdir()  # what a SIGKILL leaves behind
    vae = FakeVAE()
    cache = build_latent_cache(records, RES, vae, cache_dir, flip=True, key="vae@1", batch_size=2)
    assert vae.images == 12 and not cache.reused

    (cache.path / "index.json").unlink()  # a cache folder without its index is not complete
    vae = FakeVAE()
    assert not build_latent_cache(records, RES, vae, cache_dir, flip=True, key="vae@1").reused
    assert vae.images == 12


def test_text_cache(tmp_path: Path) -> None:
    encoder = FakeTextEncoder()
    captions = ["a red square", "a red square", "a much longer caption about a wide field", "b"]
    cache = build_text_cache(captions, encoder, tmp_path, key="gemma@1", batch_size=2)
    assert sorted(encoder.captions) == ["", "a much longer caption about a wide field", "a red square", "b"]
    assert "" in cache and len(cache) == 4

    full, full_mask = FakeTextEncoder()(["a red square", "b"])
    embeddings, mask = cache.batch(["a red square", "b"])
    assert embeddings.shape == (2, 8, 4) and torch.equal(mask, full_mask)
    assert torch.equal(embeddings[mask.bool()], full[full_mask.bool()])  # padding positions hold zeros
    single, single_mask = cache.get("b")
    assert single.shape == (8, 4) and torch.equal(single_mask, full_mask[1])

    again = FakeTextEncoder()
    assert build_text_cache(list(reversed(captions)), again, tmp_path, key="gemma@1").reused
    assert again.captions == []
    for changed, key in [([*captions, "new"], "gemma@1"), (captions, "gemma@2")]:
        encoder = FakeTextEncoder()
        assert not build_text_cache(changed, encoder, tmp_path, key=key).reused
        assert len(encoder.captions) == len(set(changed) | {""})
    with pytest.raises(KeyError, match="not in text cache"):
        cache.batch(["never seen"])


# --- training batches -------------------------------------------------------------------------------------------


def training_data(tmp_path: Path, **options: object) -> TrainingData:
    records = make_dataset(tmp_path / "set")
    latents = build_latent_cache(records, RES, FakeVAE(), tmp_path / "cache", flip=True, key="vae@1")
    texts = build_text_cache([r.caption for r in records], FakeTextEncoder(), tmp_path / "cache", key="t@1")
    settings: dict[str, object] = {"batch_size": 2, "seed": 7, "caption_dropout": 0.2, "flip": True} | options
    return TrainingData(records, latents, texts, **settings)  # type: ignore[arg-type]


def take(data: TrainingData, count: int) -> list[tuple[torch.Tensor, ...]]:
    stream = iter(data)
    return [tuple(next(stream)) for _ in range(count)]


def same(a: list[tuple[torch.Tensor, ...]], b: list[tuple[torch.Tensor, ...]]) -> bool:
    if len(a) != len(b):
        return False
    return all(torch.equal(x, y) for p, q in zip(a, b, strict=True) for x, y in zip(p, q, strict=True))


def test_training_data_is_deterministic_and_resumes_exactly(tmp_path: Path) -> None:
    data = training_data(tmp_path)
    assert data.batches_per_epoch == 4  # buckets of 2, 2, 1, 1 images; batch size 2
    straight = take(data, 12)
    for latents, text_emb, text_mask in straight:
        assert latents.ndim == 4 and text_emb.shape[:2] == text_mask.shape == (len(latents), 8)
    assert same(straight, take(training_data(tmp_path), 12))

    first = training_data(tmp_path)
    head = take(first, 7)
    state = json.loads(json.dumps(first.state_dict()))  # survives a checkpoint round trip
    assert (state["epoch"], state["position"]) == (1, 3)
    resumed = training_data(tmp_path)
    resumed.load_state_dict(state)
    assert same(head + take(resumed, 5), straight)

    other = training_data(tmp_path, seed=8)
    with pytest.raises(ValueError, match="seed=7"):
        other.load_state_dict(state)


def test_training_data_flips_and_drops_captions(tmp_path: Path) -> None:
    data = training_data(tmp_path, batch_size=1, caption_dropout=1.0)
    empty, _ = data.texts.get("")
    flipped = plain = 0
    for planned, (latents, text_emb, _mask) in zip(data.plan.batches_from(), take(data, 60), strict=False):
        index = planned.indices[0]
        assert torch.equal(text_emb[0], empty)
        if torch.equal(latents[0], data.latents.latent(index, flipped=True)):
            flipped += 1
        if torch.equal(latents[0], data.latents.latent(index)):
            plain += 1
    assert flipped > 10 and plain > 10  # both, at about one half each (a symmetric latent counts twice)

    no_flip = training_data(tmp_path, batch_size=1, caption_dropout=0.0, flip=False)
    for planned, (latents, text_emb, _mask) in zip(no_flip.plan.batches_from(), take(no_flip, 6), strict=False):
        index = planned.indices[0]
        assert torch.equal(latents[0], no_flip.latents.latent(index))
        assert torch.equal(text_emb[0], no_flip.texts.get(no_flip.records[index].caption)[0])
