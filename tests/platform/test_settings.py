"""Settings: embedded defaults need nothing; cluster mode refuses to start on insecure defaults."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from sanacloud.platform import tenant_caps
from sanacloud.platform.settings import Mode, Settings

SANACLOUD = str(Path(sys.executable).with_name("sanacloud"))
ROOT = Path(__file__).resolve().parents[2]
CODE_FOLDERS = ("platform", "api", "workers", "cli", "model")

CLUSTER = {"mode": "cluster", "secret_key": "k3Jq9-vXz_0aLpW2mT7rYc4BnE8hGdF1", "s3_secret_key": "a-real-secret",
           "database_url": "postgresql+psycopg://db/sanacloud", "broker_url": "redis://redis:6379/0",
           "storage_backend": "s3", "s3_public_url": "https://s3.example.com"}


def test_embedded_defaults_live_under_one_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.mode is Mode.EMBEDDED
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'sanacloud.db'}"
    assert settings.objects_dir == tmp_path / "objects" and settings.effective_broker_url == "filesystem://"


def test_embedded_secret_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).effective_secret_key
    assert len(first) >= 32 and Settings(data_dir=tmp_path).effective_secret_key == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_settings_come_from_prefixed_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SANACLOUD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SANACLOUD_MAX_FILE_BYTES", "1234")
    settings = Settings()
    assert settings.data_dir == tmp_path and settings.max_file_bytes == 1234


def test_cluster_settings_are_accepted() -> None:
    assert Settings(**CLUSTER).mode is Mode.CLUSTER  # type: ignore[arg-type]


@pytest.mark.parametrize(("change", "complaint"), [
    ({"secret_key": ""}, "SANACLOUD_SECRET_KEY"),
    ({"secret_key": "changeme"}, "SANACLOUD_SECRET_KEY"),
    ({"secret_key": "short"}, "SANACLOUD_SECRET_KEY"),
    ({"database_url": ""}, "SANACLOUD_DATABASE_URL"),
    ({"broker_url": ""}, "SANACLOUD_BROKER_URL"),
    ({"s3_secret_key": "minioadmin"}, "SANACLOUD_S3_SECRET_KEY"),
    ({"secret_key": "x" * 40}, "SANACLOUD_SECRET_KEY is too regular"),
    ({"secret_key": "ab" * 20}, "SANACLOUD_SECRET_KEY is too regular"),
    ({"storage_backend": "local"}, "SANACLOUD_STORAGE_BACKEND must be s3"),
    ({"s3_public_url": ""}, "SANACLOUD_S3_PUBLIC_URL"),
])
def test_cluster_mode_refuses_insecure_defaults(change: dict[str, str], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        Settings(**{**CLUSTER, **change})  # type: ignore[arg-type]


def test_unknown_storage_backend_is_refused() -> None:
    with pytest.raises(ValidationError, match="storage_backend"):
        Settings(storage_backend="ftp")  # type: ignore[arg-type]


def test_a_refusal_to_start_names_the_settings_but_never_their_values(tmp_path: Path) -> None:
    secrets = {"SANACLOUD_DATABASE_URL": "postgresql+psycopg://sana:db-password-42@db.internal/sanacloud",
               "SANACLOUD_BROKER_URL": "amqp://sana:broker-password-42@mq.internal//",
               "SANACLOUD_S3_SECRET_KEY": "s3-password-42", "SANACLOUD_SECRET_KEY": "y" * 48}
    env = {**os.environ, **secrets, "SANACLOUD_MODE": "cluster", "SANACLOUD_STORAGE_BACKEND": "s3",
           "SANACLOUD_DATA_DIR": str(tmp_path)}
    for extra in ({}, {"SANACLOUD_DB_POOL_SIZE": "db-password-42"}):
        done = subprocess.run([SANACLOUD, "api"], env={**env, **extra}, capture_output=True, text=True, timeout=120)
        said = done.stdout + done.stderr
        assert done.returncode != 0 and "invalid settings" in said, said
        assert "password-42" not in said and "y" * 10 not in said, said
        assert ("SANACLOUD_DB_POOL_SIZE" if extra else "SANACLOUD_SECRET_KEY") in said, said
        assert len(said.strip().splitlines()) == 1, said


def test_presigned_urls_carry_the_public_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    from urllib.parse import urlsplit

    from sanacloud.platform.storage import make_object_store
    from sanacloud.platform.storage.s3 import S3ObjectStore

    settings = Settings(**{**CLUSTER, "s3_endpoint": "minio:9000", "s3_access_key": "a"})  # type: ignore[arg-type]
    monkeypatch.setattr(S3ObjectStore, "ensure_bucket", lambda self: None)  # signing needs no server
    url = urlsplit(make_object_store(settings).presigned_get_url("tenants/t/x.png", 60))
    assert (url.scheme, url.netloc) == ("https", "s3.example.com") and "X-Amz-Signature" in url.query


def test_every_setting_is_read_by_the_code() -> None:
    """A setting nothing reads misleads whoever sets it (as SANACLOUD_K8S_NAMESPACE did)."""
    code = "\n".join(path.read_text() for folder in CODE_FOLDERS for path in (ROOT / folder).rglob("*.py"))
    read_as_attribute = {name for name in Settings.model_fields if re.search(rf"\.{name}\b", code)}
    read_per_kind = {f"max_{kind}_per_tenant" for kind in tenant_caps.Kind}  # tenant_caps.limit
    assert set(Settings.model_fields) - read_as_attribute - read_per_kind == set()


def test_the_built_in_captioner_is_a_default_only_in_embedded_mode() -> None:
    """It reads sana-tiny's scenes only: a cluster's photos are never captioned with it unasked."""
    embedded = Settings.model_construct(mode=Mode.EMBEDDED, default_captioner=None, default_scorer=None)
    assert (embedded.effective_default_captioner, embedded.effective_default_scorer) == (
        "sana-tiny-captioner", "sana-tiny-scorer")
    cluster = Settings.model_construct(mode=Mode.CLUSTER, default_captioner=None, default_scorer=None)
    assert (cluster.effective_default_captioner, cluster.effective_default_scorer) == (None, None)
    chosen = Settings.model_construct(mode=Mode.CLUSTER, default_captioner="blip", default_scorer="clip")
    assert (chosen.effective_default_captioner, chosen.effective_default_scorer) == ("blip", "clip")
