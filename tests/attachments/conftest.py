"""Attachments are kept in a folder or on S3-compatible storage: a real server (moto) on loopback for the second,
started once for the run, with a bucket of its own."""

from __future__ import annotations

import io
import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from PIL import Image

from app.config import Settings
from tests.conftest import Caller, settings_of

FOLDER, S3 = "folder", "s3"
BOTH_STORES = pytest.mark.parametrize("attachment_store", [FOLDER, S3], indirect=True)
AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    saved = {name: os.environ.get(name) for name in AWS}
    os.environ.update(AWS)  # boto3 reads them, in the app as in a deployment
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass(frozen=True)
class Store:
    """Where the app under test keeps attachments, and a way to count what is there."""

    setting: str
    endpoint: str | None

    def blobs(self) -> list[str]:
        """The names of the blobs kept (their SHA-256)."""
        if self.endpoint is None:
            return sorted(p.name for p in Path(self.setting).rglob("*") if p.is_file())
        bucket, _, prefix = self.setting.removeprefix("s3://").partition("/")
        client = boto3.client("s3", endpoint_url=self.endpoint)
        listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix + "/")
        return sorted(item["Key"].rsplit("/", 1)[-1] for item in listed.get("Contents", []))


@pytest.fixture(scope="session")
def attachment_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Store:
    """The folder (default), or with ``BOTH_STORES`` the S3 bucket too."""
    if getattr(request, "param", FOLDER) == FOLDER:
        return Store(str(tmp_path_factory.mktemp("attachments") / "store"), None)
    endpoint: str = request.getfixturevalue("s3_endpoint")
    bucket = f"tousu-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return Store(f"s3://{bucket}/evidence", endpoint)


@pytest.fixture
def attachment_limit(request: pytest.FixtureRequest) -> int:
    return int(getattr(request, "param", 10 * 1024 * 1024))


@pytest.fixture
def settings(database_url: str, attachment_store: Store, attachment_limit: int) -> Settings:
    return settings_of(
        database_url=database_url,
        sweep_in_serve=False,
        dispatch_in_serve=False,
        attachment_store=attachment_store.setting,
        s3_endpoint_url=attachment_store.endpoint,
        max_attachment_bytes=attachment_limit,
    )


def upload(
    caller: Caller, complaint_id: str, data: bytes, filename: str = "receipt.jpg", content_type: str = "image/jpeg"
) -> Any:
    return caller.client.post(
        f"/v1/complaints/{complaint_id}/attachments",
        files={"file": (filename, data, content_type)},
        headers=caller.headers(),
    )


def photo(kind: str = "JPEG", *, gps: bool = False, colour: str = "red", size: tuple[int, int] = (64, 48)) -> bytes:
    """A small photo, turned (EXIF orientation 6) and, with ``gps``, taken at a place in Futian, Shenzhen."""
    image = Image.new("RGB", size, colour)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "TousuCam"
    if gps:
        exif[0x8825] = {1: "N", 2: (22.0, 32.0, 10.5), 3: "E", 4: (114.0, 3.0, 25.25)}
    out = io.BytesIO()
    image.save(out, kind, exif=exif.tobytes())
    return out.getvalue()


PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
