"""The object key layout: every kind of key is read back, by the orphan sweep's parser, to the row
that owns it; and no key part can step outside the tenant's prefix."""

from __future__ import annotations

from pathlib import Path

import pytest

from sanacloud.model.train import checkpoint_layout as layout
from sanacloud.model.train import checkpoints
from sanacloud.platform.storage import keys
from sanacloud.platform.storage.keys import Owner, tenant_key, tenant_prefix

T, DATASET, JOB, MODEL, ENDPOINT, GENERATION = "ten_1", "ds_1", "job_1", "mdl_1", "ep_1", "gen_1"
CHECKPOINT = keys.checkpoint_prefix(T, JOB, 20)

OWNED_KEYS = [
    (keys.dataset_image(T, DATASET, "file_1", "png"), Owner(T, "dataset", DATASET)),
    (CHECKPOINT + layout.SAMPLES_DIR + "/00.png", Owner(T, "job", JOB)),
    (CHECKPOINT + layout.LORA_WEIGHTS, Owner(T, "job", JOB)),
    (CHECKPOINT + layout.TRANSFORMER_DIR + "/config.json", Owner(T, "job", JOB)),
    (keys.model_prefix(T, MODEL) + layout.LORA_WEIGHTS, Owner(T, "model", MODEL)),
    (keys.model_prefix(T, MODEL) + layout.TRANSFORMER_DIR + "/config.json", Owner(T, "model", MODEL)),
    (keys.generation_image(T, ENDPOINT, GENERATION, 3), Owner(T, "generation", GENERATION)),
]


@pytest.mark.parametrize(("key", "owner"), OWNED_KEYS, ids=[key for key, _ in OWNED_KEYS])
def test_every_kind_of_key_is_parsed_back_to_its_owner(key: str, owner: Owner) -> None:
    assert keys.owner(key) == owner
    assert key.startswith(tenant_prefix(T))


def test_each_object_lies_under_its_owners_prefix() -> None:
    assert keys.dataset_image(T, DATASET, "file_1", "png").startswith(keys.dataset_prefix(T, DATASET))
    assert CHECKPOINT.startswith(keys.job_prefix(T, JOB))
    assert keys.generation_image(T, ENDPOINT, GENERATION, 0).startswith(keys.endpoint_prefix(T, ENDPOINT))


@pytest.mark.parametrize("key", [
    keys.dataset_prefix(T, DATASET) + "notes.txt", keys.job_prefix(T, JOB) + "notes.txt",
    keys.endpoint_prefix(T, ENDPOINT) + "x.png", f"{tenant_prefix(T)}uploads/u1.bin", "elsewhere/a.png",
])
def test_keys_of_other_shapes_have_no_owner(key: str) -> None:
    assert keys.owner(key) is None


def test_sample_images_and_exported_weights_are_told_apart() -> None:
    assert keys.is_sample_image("samples/00.png") and not keys.is_sample_image("trainer.pt")
    assert keys.is_exported_weights("lora", layout.LORA_WEIGHTS)
    assert not keys.is_exported_weights("lora", "trainer.pt")
    assert keys.is_exported_weights("full", "transformer/diffusion_pytorch_model.safetensors")
    assert not keys.is_exported_weights("full", layout.LORA_WEIGHTS)
    assert not keys.is_exported_weights("full", "transformer.json") and not keys.is_sample_image("samples.txt")


@pytest.mark.parametrize("step", [0, 20, 999_999, 1_234_567])
def test_a_checkpoint_is_stored_under_the_folder_name_the_trainer_wrote_and_reads_back(step: int) -> None:
    folder = checkpoints.folder_for(Path("out"), step)
    assert keys.checkpoint_prefix(T, JOB, step).endswith(f"/checkpoints/{folder.name}/")
    assert layout.step_of(folder.name) == step
    assert layout.step_of(folder.name + ".tmp") is None and layout.step_of("step-12") is None


def test_tenant_key_builds_the_tenant_prefix() -> None:
    assert tenant_key("ten_1") == "tenants/ten_1"
    assert tenant_key("ten_1", "datasets", "ds-2", "img.0001.png") == "tenants/ten_1/datasets/ds-2/img.0001.png"
    assert tenant_prefix("ten_1") == "tenants/ten_1/"


@pytest.mark.parametrize("part", ["..", ".", "a/b", "", "a b", " ", "a\\b", "a\nb", "/etc", "ä", "a%2fb"])
def test_tenant_key_refuses_unsafe_parts(part: str) -> None:
    with pytest.raises(ValueError, match="unsafe object key part"):
        tenant_key(part, "x")
    with pytest.raises(ValueError, match="unsafe object key part"):
        tenant_key("ten_1", "datasets", part)
    with pytest.raises(ValueError, match="unsafe object key part"):
        tenant_prefix(part)
