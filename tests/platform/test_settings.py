"""Settings: embedded defaults need nothing; cluster mode refuses to start on insecure defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from sanacloud.platform.settings import Mode, Settings

CLUSTER = {"mode": "cluster", "secret_key": "x" * 40, "database_url": "postgresql+psycopg://db/sanacloud",
           "broker_url": "redis://redis:6379/0", "storage_backend": "s3", "s3_secret_key": "a-real-secret"}


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
])
def test_cluster_mode_refuses_insecure_defaults(change: dict[str, str], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        Settings(**{**CLUSTER, **change})  # type: ignore[arg-type]


def test_unknown_storage_backend_is_refused() -> None:
    with pytest.raises(ValidationError, match="storage_backend"):
        Settings(storage_backend="ftp")  # type: ignore[arg-type]
