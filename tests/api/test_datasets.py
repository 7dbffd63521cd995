"""Datasets over HTTP on both backends: upload, inspect, list, delete — objects follow rows."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.helpers.backends import TenantCtx, object_keys
from tests.helpers.images import captioned_zip, jpeg, multipart_body, png, rotated_jpeg, zip_of


def create_dataset(client: TestClient, tenant: TenantCtx, name: str = "shapes") -> str:
    response = client.post("/v1/datasets", json={"name": name, "description": "test"}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_zip_upload_stores_images_with_captions(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = create_dataset(client, tenant)
    response = client.post(f"/v1/datasets/{dataset_id}/files", headers=tenant.headers,
                           files=[("files", ("set.zip", captioned_zip(3), "application/zip"))])
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["accepted"] == 3 and report["rejected"] == [] and report["dataset"]["file_count"] == 3

    detail = client.get(f"/v1/datasets/{dataset_id}", headers=tenant.headers).json()
    assert detail["stats"]["captioned"] == 3 and detail["stats"]["formats"] == {"png": 3}
    assert detail["stats"]["min_width"] == 64 and detail["report"]["uploads"][0]["accepted"] == 3

    files = client.get(f"/v1/datasets/{dataset_id}/files", headers=tenant.headers).json()["items"]
    assert sorted(f["name"] for f in files) == ["set/000.png", "set/001.png", "set/002.png"]
    assert {f["caption"] for f in files} == {"a red square", "a green square", "a blue square"}
    assert len(object_keys(f"tenants/{tenant.id}/datasets/{dataset_id}/")) == 3


def test_multipart_files_with_sidecars_and_metadata(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = create_dataset(client, tenant)
    metadata = json.dumps({"file_name": "b.jpg", "text": "a blue photo"}).encode()
    response = client.post(f"/v1/datasets/{dataset_id}/files", headers=tenant.headers, files=[
        ("files", ("a.png", png(), "image/png")), ("files", ("a.txt", b"a red square", "text/plain")),
        ("files", ("b.jpg", jpeg(), "image/jpeg")), ("files", ("metadata.jsonl", metadata, "application/json")),
    ])
    assert response.status_code == 201, response.text
    files = client.get(f"/v1/datasets/{dataset_id}/files", headers=tenant.headers).json()["items"]
    assert {f["name"]: f["caption"] for f in files} == {"a.png": "a red square", "b.jpg": "a blue photo"}


def test_presigned_file_url_returns_the_image(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = create_dataset(client, tenant)
    image = png(80, 48)
    client.post(f"/v1/datasets/{dataset_id}/files", headers=tenant.headers, files=[("files", ("x.png", image))])
    item = client.get(f"/v1/datasets/{dataset_id}/files", headers=tenant.headers).json()["items"][0]
    assert (item["width"], item["height"]) == (80, 48)
    if item["url"].startswith("http://testserver"):
        fetched = client.get(item["url"]).content
    else:
        import httpx

        fetched = httpx.get(item["url"]).content
    assert fetched == image


def test_sizes_are_the_shown_ones_for_a_turned_photo(client: TestClient, tenant: TenantCtx) -> None:
    """A phone photo stored 48x80 with EXIF orientation 6 is shown, and trained, at 80x48."""
    dataset_id = create_dataset(client, tenant)
    response = client.post(f"/v1/datasets/{dataset_id}/files", headers=tenant.headers,
                           files=[("files", ("phone.jpg", rotated_jpeg(80, 48)))])
    assert response.status_code == 201, response.text
    item = client.get(f"/v1/datasets/{dataset_id}/files", headers=tenant.headers).json()["items"][0]
    assert (item["width"], item["height"]) == (80, 48)
    stats = client.get(f"/v1/datasets/{dataset_id}", headers=tenant.headers).json()["stats"]
    assert (stats["min_width"], stats["max_width"], stats["min_height"], stats["max_height"]) == (80, 80, 48, 48)


def test_a_truncated_multipart_body_stores_nothing(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = create_dataset(client, tenant)
    body = multipart_body({"a.png": png(), "b.png": png(color=(1, 2, 3))})[:-60]  # cut inside b.png
    response = client.post(f"/v1/datasets/{dataset_id}/files", content=body, headers={
        **tenant.headers, "content-type": "multipart/form-data; boundary=XyZ"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == ("the multipart body cannot be read: it ends before its closing boundary, "
                                         "so it is truncated or malformed; send the whole upload again")
    assert client.get(f"/v1/datasets/{dataset_id}", headers=tenant.headers).json()["file_count"] == 0
    whole = client.post(f"/v1/datasets/{dataset_id}/files", content=multipart_body({"a.png": png()}), headers={
        **tenant.headers, "content-type": "multipart/form-data; boundary=XyZ"})
    assert whole.status_code == 201, whole.text


def test_skip_mode_stores_valid_images_and_reports_invalid(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = create_dataset(client, tenant)
    response = client.post(f"/v1/datasets/{dataset_id}/files?on_invalid=skip", headers=tenant.headers, files=[
        ("files", ("good.png", png())), ("files", ("bad.png", b"not an image at all")),
    ])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["accepted"] == 1 and [r["name"] for r in body["rejected"]] == ["bad.png"]
    detail = client.get(f"/v1/datasets/{dataset_id}", headers=tenant.headers).json()
    assert detail["report"]["uploads"][-1]["rejected"][0]["name"] == "bad.png"


def test_the_dataset_keeps_a_bounded_report_of_each_upload(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = create_dataset(client, tenant)
    bad = {f"bad/{i:03}.png": b"not an image" for i in range(150)}
    response = client.post(f"/v1/datasets/{dataset_id}/files?on_invalid=skip", headers=tenant.headers,
                           files=[("files", ("set.zip", zip_of({"good.png": png(), **bad})))])
    assert response.status_code == 201, response.text
    assert len(response.json()["rejected"]) == 150  # the upload's own answer names every file
    kept = client.get(f"/v1/datasets/{dataset_id}", headers=tenant.headers).json()["report"]["uploads"][-1]
    assert (len(kept["rejected"]), kept["rejected_count"]) == (100, 150)
    assert kept["rejected"][0] == {"name": "bad/000.png", "reason": "not an image: cannot identify image file"}


def test_second_upload_adds_and_refuses_duplicate_names(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = create_dataset(client, tenant)
    url = f"/v1/datasets/{dataset_id}/files"
    assert client.post(url, headers=tenant.headers, files=[("files", ("a.png", png()))]).status_code == 201
    assert client.post(url, headers=tenant.headers, files=[("files", ("b.png", png()))]).status_code == 201
    again = client.post(url, headers=tenant.headers, files=[("files", ("a.png", png()))])
    assert again.status_code == 409 and "a.png" in again.json()["detail"]
    assert client.get(f"/v1/datasets/{dataset_id}", headers=tenant.headers).json()["file_count"] == 2
    assert len(object_keys(f"tenants/{tenant.id}/")) == 2


def test_delete_dataset_removes_rows_and_objects(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = create_dataset(client, tenant)
    client.post(f"/v1/datasets/{dataset_id}/files", headers=tenant.headers,
                files=[("files", ("s.zip", captioned_zip(2)))])
    assert object_keys(f"tenants/{tenant.id}/")
    assert client.delete(f"/v1/datasets/{dataset_id}", headers=tenant.headers).status_code == 204
    assert client.get(f"/v1/datasets/{dataset_id}", headers=tenant.headers).status_code == 404
    assert object_keys(f"tenants/{tenant.id}/") == []


def test_delete_one_file(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = create_dataset(client, tenant)
    client.post(f"/v1/datasets/{dataset_id}/files", headers=tenant.headers,
                files=[("files", ("s.zip", zip_of({"a.png": png(), "b.png": png()})))])
    files = client.get(f"/v1/datasets/{dataset_id}/files", headers=tenant.headers).json()["items"]
    doomed = next(f for f in files if f["name"] == "a.png")
    assert client.delete(f"/v1/datasets/{dataset_id}/files/{doomed['id']}", headers=tenant.headers).status_code == 204
    left = client.get(f"/v1/datasets/{dataset_id}/files", headers=tenant.headers).json()["items"]
    assert [f["name"] for f in left] == ["b.png"]
    assert len(object_keys(f"tenants/{tenant.id}/")) == 1
    assert client.get(f"/v1/datasets/{dataset_id}", headers=tenant.headers).json()["file_count"] == 1


def test_list_paginates_newest_first(client: TestClient, tenant: TenantCtx) -> None:
    ids = [create_dataset(client, tenant, f"d{i}") for i in range(5)]
    first = client.get("/v1/datasets?limit=2", headers=tenant.headers).json()
    second = client.get(f"/v1/datasets?limit=2&cursor={first['next_cursor']}", headers=tenant.headers).json()
    third = client.get(f"/v1/datasets?limit=2&cursor={second['next_cursor']}", headers=tenant.headers).json()
    seen = [d["id"] for page in (first, second, third) for d in page["items"]]
    assert seen == list(reversed(ids)) and third["next_cursor"] is None


def test_rename_dataset(client: TestClient, tenant: TenantCtx) -> None:
    dataset_id = create_dataset(client, tenant)
    response = client.patch(f"/v1/datasets/{dataset_id}", json={"name": "renamed"}, headers=tenant.headers)
    assert response.status_code == 200 and response.json()["name"] == "renamed"
    assert response.json()["description"] == "test"
