"""The Python SDK for the sanacloud API, and the user commands of `sanacloud` built on it.

    from sanacloud.client import Client

    with Client() as client:  # $SANACLOUD_BASE_URL and $SANACLOUD_API_KEY, or Client(url, api_key)
        dataset = client.datasets.create("pink")
        report = client.datasets.upload(dataset.id, "pink/")  # a folder, a .zip, or a list of files
        job = client.jobs.create(dataset_id=dataset.id, base_model="sana-tiny", hyperparameters={"steps": 300})
        job = client.jobs.wait(job.id, on_event=lambda event: print(event.type, event.payload))
        checkpoint = client.jobs.checkpoints(job.id)[-1]
        model = client.checkpoints.promote(checkpoint.id, name="pink")
        endpoint = client.endpoints.create(name="pink", model=model.id)
        generation = client.endpoints.generate(endpoint.id, "a pink circle on a blue background", seed=7)
        generation.save("out/")  # the PNGs; generation.images() gives their bytes

Lists return pages that iterate across cursors (`for job in client.jobs.list()`); errors are
`sanacloud.client.errors` classes per status (`NotFound`, `InvalidRequest` with `.errors`, ...).
`AsyncClient` is the same with `async with` and `await`.
"""

__version__ = "0.1.0"

from sanacloud.client._client import AsyncClient, Client
from sanacloud.client.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    Conflict,
    InternalServerError,
    InvalidRequest,
    InvalidUpload,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    SanacloudError,
    ServiceUnavailable,
    Unauthorized,
    UnreadableResponse,
    WaitTimeout,
)
from sanacloud.client.models import (
    BaseModelInfo,
    Caption,
    Captioner,
    Checkpoint,
    Dataset,
    DatasetDetail,
    DatasetFile,
    Endpoint,
    Generation,
    Job,
    JobEvent,
    Key,
    KeyCreated,
    Member,
    Model,
    Pool,
    Quota,
    Rejected,
    Tenant,
    UploadReport,
    Usage,
    UsageReport,
)
from sanacloud.client.pagination import AsyncPage, Page
from sanacloud.client.uploads import UploadProgress

__all__ = [
    "APIConnectionError", "APIStatusError", "APITimeoutError", "AsyncClient", "AsyncPage", "BaseModelInfo",
    "Caption", "Captioner", "Checkpoint", "Client", "ConfigurationError", "Conflict", "Dataset", "DatasetDetail",
    "DatasetFile", "Endpoint", "Generation", "InternalServerError", "InvalidRequest", "InvalidUpload", "Job",
    "JobEvent", "Key", "KeyCreated", "Member", "Model", "NotFound", "Page", "PayloadTooLarge", "PermissionDenied",
    "Pool", "Quota", "RateLimited", "Rejected", "SanacloudError", "ServiceUnavailable", "Tenant", "Unauthorized",
    "UnreadableResponse", "UploadProgress", "UploadReport", "Usage", "UsageReport", "WaitTimeout",
]
