"""Dataset routes: streamed upload, validation errors by line, versions, preview, delete."""

from __future__ import annotations

from pathlib import Path

import httpx

from runtime.platform import Platform
from tests.integration.gateway_support import login

DATA = Path(__file__).parents[1] / "data" / "training"


async def _upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    name: str,
    body: bytes,
    filename: str = "data.jsonl",
    **fields: str,
) -> httpx.Response:
    return await client.post(
        "/api/datasets",
        headers=headers,
        files={"file": (filename, body, "application/json")},
        data={"name": name, **fields},
    )


async def test_upload_validates_stores_versions_previews_and_deletes(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    owner = await login(platform, client, "owner@example.com")
    other = await login(platform, client, "other@example.com")
    alpaca = (DATA / "alpaca_math.json").read_bytes()
    created = await _upload(client, owner, "math", alpaca, "math.json")
    assert created.status_code == 201, created.text
    ds = created.json()
    assert ds["format"] == "alpaca"
    assert ds["num_records"] == 40
    assert ds["version"] == 1
    assert ds["stats"]["turns"] == 40
    assert ds["stats"]["duplicates"] == 0
    assert ds["dataset_info"]["columns"]["prompt"] == "instruction"
    assert Path(ds["dataset_info"]["file_name"]).is_file()

    same = await _upload(client, owner, "math", alpaca, "math.json")
    assert same.status_code == 200
    assert same.json()["id"] == ds["id"]
    v2 = await _upload(client, owner, "math", alpaca.replace(b"concise", b"terse"), "m.json")
    assert v2.status_code == 201
    assert v2.json()["version"] == 2

    preview = await client.get(f"/api/datasets/{ds['id']}/preview?limit=2&offset=1", headers=owner)
    assert preview.status_code == 200
    body = preview.json()
    assert body["total"] == 40
    assert len(body["items"]) == 2
    assert body["items"][0]["messages"][0]["role"] == "user"

    listing = await client.get("/api/datasets?name=math", headers=owner)
    assert listing.json()["total"] == 2
    assert (await client.get("/api/datasets", headers=other)).json()["total"] == 0
    assert (await client.get(f"/api/datasets/{ds['id']}", headers=other)).status_code == 404

    assert (await client.delete(f"/api/datasets/{ds['id']}", headers=owner)).status_code == 204
    assert not Path(ds["dataset_info"]["file_name"]).exists()
    assert (await client.get(f"/api/datasets/{ds['id']}", headers=owner)).status_code == 404


async def test_broken_files_are_rejected_with_lines_and_nothing_is_kept(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    headers = await login(platform, client, "u@example.com")
    broken = await _upload(client, headers, "bad", (DATA / "broken_sharegpt.jsonl").read_bytes())
    assert broken.status_code == 422
    problem = broken.json()
    assert problem["code"] == "invalid_dataset"
    assert [e["line"] for e in problem["errors"]] == sorted(e["line"] for e in problem["errors"])
    assert any(e["line"] == 3 and "invalid JSON" in e["message"] for e in problem["errors"])
    assert any(e["line"] == 6 and e["field"] == "conversations[1].value" for e in problem["errors"])
    assert "Nothing was kept" in problem["detail"]
    not_json = await _upload(client, headers, "bad", b"[{]")
    assert not_json.status_code == 422
    assert not_json.json()["errors"][0]["line"] == 1
    data_dir = platform.settings.data_dir
    assert not list((data_dir / "tmp").glob("upload-*"))
    assert not (data_dir / "datasets").exists() or not any(
        p.is_file() for p in (data_dir / "datasets").rglob("*")
    )
    assert (await client.get("/api/datasets", headers=headers)).json()["total"] == 0


async def test_uploads_over_the_limit_or_malformed_are_refused(
    platform_factory: object, tmp_path: Path
) -> None:
    import dataclasses

    from runtime.settings import TrainingSettings

    start = platform_factory  # type: ignore[assignment]
    platform = await start(overrides={"training": TrainingSettings(max_dataset_bytes=1000)})  # type: ignore[operator]
    async with httpx.AsyncClient(base_url=platform.url, timeout=10) as client:
        headers = await login(platform, client, "u@example.com")
        big = await _upload(client, headers, "big", (DATA / "alpaca_math.json").read_bytes())
        assert big.status_code == 413
        assert big.json()["code"] == "dataset_too_large"
        no_file = await client.post(
            "/api/datasets", headers=headers, data={"name": "x"}, files={"other": ("a.txt", b"x")}
        )
        assert no_file.status_code == 400
        plain = await client.post("/api/datasets", headers=headers, json={"name": "x"})
        assert plain.json()["code"] == "multipart_required"
        assert not list((platform.settings.data_dir / "tmp").glob("upload-*"))
        assert dataclasses.is_dataclass(platform.settings.training)
