"""One place for configuration: environment variables prefixed `SANACLOUD_`.

Two modes share every code path; only these values differ:
- embedded (default): SQLite file, local object-store folder and Celery's filesystem broker, all
  under one data directory, so `sanacloud up` needs no other setup;
- cluster: PostgreSQL, MinIO/S3, Redis or RabbitMQ, Kubernetes.
"""

from __future__ import annotations

import math
import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sanacloud.platform.cluster.placement import PoolPlacement

INSECURE_SECRETS = {"", "changeme", "change-me", "secret", "minioadmin"}
SECRET_RECIPE = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
MIN_DISTINCT_SECRET_CHARS = 12  # a random 32-character key has about 25


def guessable(secret: str) -> bool:
    """A key made of few distinct characters ('xxxx...', 'abab...') was typed, not generated."""
    return len(set(secret)) < MIN_DISTINCT_SECRET_CHARS


class Mode(StrEnum):
    EMBEDDED = "embedded"
    CLUSTER = "cluster"


class Settings(BaseSettings):
    # hide_input_in_errors: a refusal to start never prints the settings' values (passwords among them).
    model_config = SettingsConfigDict(env_prefix="SANACLOUD_", env_file=None, extra="ignore",
                                      hide_input_in_errors=True)

    mode: Mode = Mode.EMBEDDED
    data_dir: Path = Path.home() / ".sanacloud"
    # Signs the URLs the API hands out; generated once per data dir in embedded mode.
    secret_key: str = ""
    public_url: str = "http://127.0.0.1:8000"
    # Proxies whose X-Forwarded-For/-Proto the API believes (comma-separated addresses or "*"); none by
    # default, so that no client can claim another's address.
    forwarded_allow_ips: str = ""

    # Database: empty means the SQLite file in the data dir.
    database_url: str = ""
    # Per process. The API serves at most pool size + overflow requests at once, so that no request
    # holds a thread while it waits for a connection.
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=20, ge=0)
    db_pool_timeout_s: float = Field(default=10.0, gt=0, description="wait for a free pooled connection")
    # PostgreSQL, every session: a statement waiting on a lock or running longer than this fails
    # (a 503 with Retry-After in the API) instead of holding its connection and thread.
    db_lock_timeout_s: float = Field(default=10.0, gt=0)
    db_statement_timeout_s: float = Field(default=120.0, gt=0)

    # Object storage: "local" (a folder in the data dir) or "s3" (MinIO or any S3 API).
    storage_backend: Literal["local", "s3"] = "local"
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_bucket: str = "sanacloud"
    s3_region: str = "us-east-1"
    s3_secure: bool = False
    # Where clients outside the cluster reach the store (scheme and host), if not at s3_endpoint:
    # presigned URLs are signed for it.
    s3_public_url: str = ""
    presign_ttl_s: int = Field(default=3600, ge=60, le=7 * 24 * 3600)

    # Celery broker: empty means the filesystem transport in the data dir.
    broker_url: str = ""

    # Upload limits.
    max_upload_bytes: int = Field(default=2 * 1024**3, gt=0)
    max_json_bytes: int = Field(default=1024**2, gt=0, description="any request body but an upload's")
    max_file_bytes: int = Field(default=50 * 1024**2, gt=0)
    max_files_per_upload: int = Field(default=10_000, gt=0)
    max_image_pixels: int = Field(default=40_000_000, gt=0)
    min_image_side: int = Field(default=32, gt=0)
    max_image_side: int = Field(default=8192, gt=0)
    max_caption_chars: int = Field(default=4000, gt=0)
    max_image_metadata_bytes: int = Field(default=1024**2, gt=0, description="text, EXIF, XMP... in one image")
    upload_tmp_dir: Path | None = Field(default=None, description="uploads' scratch space (platform/scratch.py); "
                                                                  "default <system temp folder>/sanacloud-uploads")
    # Objects no row owns (a writer killed before its commit) are deleted once this old; a writer
    # commits its rows within seconds to minutes of storing the objects (platform/storage/sweep.py).
    orphan_grace_s: float = Field(default=3600.0, gt=0, description="age before an unowned object is swept")

    # Per API key and API process: a burst of this many requests, then this many a second.
    rate_limit_burst: int = Field(default=100, ge=1)
    rate_limit_per_s: float = Field(default=20.0, gt=0)

    # What one tenant may create (platform/tenant_caps.py); /v1/usage shows each with its use.
    max_api_keys_per_tenant: int = Field(default=100, ge=1, description="active (not revoked) keys")
    max_members_per_tenant: int = Field(default=200, ge=1)
    max_datasets_per_tenant: int = Field(default=500, ge=1)
    max_endpoints_per_tenant: int = Field(default=50, ge=1)
    max_active_jobs_per_tenant: int = Field(default=200, ge=1, description="jobs not finished yet")

    idempotency_ttl_s: int = Field(default=24 * 3600, gt=0)

    # Webhooks (platform/webhooks/): a tenant's events POSTed, signed, to its URLs from an outbox.
    max_webhooks_per_tenant: int = Field(default=20, ge=1)
    webhook_allow_private_addresses: bool = Field(
        default=False, description="let webhook URLs reach loopback, private, link-local and other non-public "
                                   "addresses (the SSRF guard off): for tests and closed networks only")
    webhook_timeout_s: float = Field(default=10.0, gt=0, description="a delivery's connect and read timeout")
    webhook_lease_s: float = Field(default=60.0, gt=0, description="a worker's hold on a delivery it sends, longer "
                                   "than the timeout; past it a lost worker's delivery is sent again, same id")
    webhook_max_attempts: int = Field(default=10, ge=1, description="then the delivery is given up (failed)")
    webhook_retry_base_s: float = Field(default=30.0, gt=0, description="the first retry's delay, doubled at "
                                        "each attempt after, with jitter")
    webhook_retry_max_s: float = Field(default=7200.0, gt=0, description="the longest delay between attempts")
    webhook_disable_after: int = Field(default=5, ge=1, description="deliveries given up in a row before their "
                                       "webhook is disabled")
    webhook_poll_s: float = Field(default=10.0, gt=0, description="how often beat has a worker send due deliveries")
    webhook_batch: int = Field(default=16, ge=1, description="deliveries one worker sends at once")

    # Observability (platform/observability/). Several processes' metrics are summed through the
    # folder in PROMETHEUS_MULTIPROC_DIR (prometheus_client's own variable, read at its import).
    log_format: Literal["text", "json"] = Field(default="text", description="json: one JSON object per log line")
    metrics_token: str = Field(default="", description="if set, GET /metrics needs 'Authorization: Bearer <it>'")
    metrics_timeout_s: float = Field(default=3.0, gt=0, description="a scrape's wait for the database or the broker")
    metrics_port: int = Field(default=0, ge=0, le=65535, description="a Celery worker serves its own /metrics "
                                                                     "on this port; 0: none")

    # Scheduler and workers.
    scheduler_tick_s: float = Field(default=15.0, gt=0, description="periodic admission, reaping and GC")
    fair_share_window_s: int = Field(default=24 * 3600, gt=0, description="GPU usage counted for fair share")
    heartbeat_s: float = Field(default=5.0, gt=0, description="how often a worker reports a running job")
    heartbeat_timeout_s: float = Field(default=120.0, gt=0, description="silence after which a job is requeued")
    dispatch_retry_s: float = Field(default=300.0, gt=0, description="resend an admitted job no worker claimed")
    broker_visibility_timeout_s: float = Field(default=3600.0, gt=0, description="Redis: redeliver a message left "
                                               "unacknowledged this long (only short tasks hold one: queues.py)")
    broker_key_prefix: str = Field(default="", description="Redis: prefix of every broker key, e.g. to share one Redis")
    stop_grace_s: float = Field(default=30.0, gt=0, description="SIGTERM to SIGKILL, for cancel and preemption")
    keep_checkpoints: int = Field(default=3, ge=1, description="per job, besides the best one")
    work_dir: Path | None = Field(default=None, description="worker scratch space; default data_dir/work")
    generation_timeout_s: float = Field(default=900.0, gt=0, description="a generation not finished by then fails")
    inference_max_batch: int = Field(default=8, ge=1, description="images sampled together in one batch")
    inference_max_adapters: int = Field(default=8, ge=1, description="LoRA adapters kept per loaded base")
    inference_compile: Literal["auto", "on", "off"] = Field(
        default="auto", description="torch.compile served models (CUDA graphs on GPU), warmed up before an endpoint "
                                    "is ready; auto: on GPU only")
    default_captioner: str | None = Field(
        default=None, description="the captioner a captioning job uses when it names none; embedded mode: "
                                  "the built-in sana-tiny-captioner (for sana-tiny's scenes only)")
    default_scorer: str | None = Field(
        default=None, description="the CLIP scorer a captioning job uses when it names none; embedded mode: "
                                  "the built-in sana-tiny-scorer")

    # Where attempts and inference run (platform/cluster/executor.py): "local", as processes of
    # this machine's worker; "kubernetes", as Jobs and Deployments the executor keeps in the cluster.
    executor: Literal["local", "kubernetes"] = "local"
    kubernetes_api_url: str = Field(default="", description="default: the in-cluster API server, with the "
                                                            "pod's service account")
    kubernetes_namespace: str = "sanacloud"
    kubernetes_image: str = Field(default="", description="the image of training and inference pods")
    kubernetes_pools: dict[str, PoolPlacement] = Field(default_factory=dict, description="JSON: pool name -> "
                                                       "placement (platform/cluster/placement.py)")
    kubernetes_shared_claim: str = Field(default="", description="a ReadWriteMany PersistentVolumeClaim: the "
                                         "shared working folder a training run across several nodes needs")
    kubernetes_job_ttl_s: int = Field(default=3600, ge=0, description="a finished Job is removed this long after")
    attempt_deadline_s: int = Field(default=7 * 24 * 3600, gt=0, description="an attempt running longer is stopped")
    checkpoint_upload_s: float = Field(default=300.0, gt=0, description="time to upload a checkpoint, in the "
                                       "grace a pod gets between SIGTERM and SIGKILL")

    @model_validator(mode="after")
    def _refuse_what_a_cluster_cannot_run_on(self) -> Settings:
        # Messages name settings, never their values: these hold passwords.
        if self.mode is Mode.CLUSTER:
            problems = []
            if self.secret_key in INSECURE_SECRETS or len(self.secret_key) < 32:
                problems.append("SANACLOUD_SECRET_KEY must be set to a random value of 32+ characters")
            elif guessable(self.secret_key):
                problems.append("SANACLOUD_SECRET_KEY is too regular to be random (few distinct characters); "
                                f"generate one with `{SECRET_RECIPE}`")
            if not self.database_url:
                problems.append("SANACLOUD_DATABASE_URL must point at PostgreSQL")
            if not self.broker_url:
                problems.append("SANACLOUD_BROKER_URL must point at Redis or RabbitMQ")
            if self.storage_backend != "s3":
                problems.append("SANACLOUD_STORAGE_BACKEND must be s3: a local folder is not shared between "
                                "the API and workers on different machines")
            elif self.s3_secret_key in INSECURE_SECRETS:
                problems.append("SANACLOUD_S3_SECRET_KEY must not be a default value")
            elif not self.s3_public_url:
                problems.append("SANACLOUD_S3_PUBLIC_URL must say where clients outside the cluster reach the "
                                "object store (presigned URLs carry it), e.g. https://s3.example.com")
            if self.executor == "kubernetes" and not self.kubernetes_image:
                problems.append("SANACLOUD_KUBERNETES_IMAGE must name the image of training and inference pods")
            if problems:
                raise ValueError("cluster mode cannot start: " + "; ".join(problems))
        return self

    @property
    def pod_grace_s(self) -> int:
        """SIGTERM to SIGKILL for a training pod: the trainer's checkpoint, then its upload and the record."""
        return math.ceil(self.stop_grace_s + self.checkpoint_upload_s)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'sanacloud.db'}"

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    @property
    def effective_default_captioner(self) -> str | None:
        """The built-in pair reads only sana-tiny's shape scenes: a default where that is what is served
        (embedded mode), never one a cluster's photos would silently be captioned with."""
        return self.default_captioner or ("sana-tiny-captioner" if self.mode is Mode.EMBEDDED else None)

    @property
    def effective_default_scorer(self) -> str | None:
        return self.default_scorer or ("sana-tiny-scorer" if self.mode is Mode.EMBEDDED else None)

    @property
    def effective_work_dir(self) -> Path:
        return self.work_dir or self.data_dir / "work"

    @property
    def broker_dir(self) -> Path:
        return self.data_dir / "broker"

    @property
    def effective_broker_url(self) -> str:
        return self.broker_url or "filesystem://"

    @property
    def effective_secret_key(self) -> str:
        """The configured key, or in embedded mode one generated once and kept in the data dir."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
