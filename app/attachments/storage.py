"""Where attachments' bytes are kept: content-addressed by SHA-256, each content once.

``TOUSU_ATTACHMENT_STORE`` is a folder (default ``./var/attachments``, made on first use) or ``s3://bucket/prefix``
on S3-compatible object storage (boto3: ``TOUSU_S3_ENDPOINT_URL``, and the credentials and region as boto3 reads
them, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``). A blob's name is its hash, under a
folder of its first two hex digits: ``ab/ab3f…``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from app.config import Settings

CHUNK = 64 * 1024


class BlobStore(Protocol):
    def has(self, sha256: str) -> bool: ...

    def put(self, sha256: str, source: BinaryIO) -> None:
        """Keep ``source`` (read from its start) as the blob ``sha256``; the caller has hashed it."""

    def chunks(self, sha256: str) -> Iterator[bytes]:
        """The blob's bytes, a chunk at a time; the blob is opened before the first chunk is asked for."""

    def delete(self, sha256: str) -> None:
        """Remove the blob for good; one already gone is no error (a rerun of an interrupted erasure)."""


def blob_name(sha256: str) -> str:
    return f"{sha256[:2]}/{sha256}"


class FolderStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def has(self, sha256: str) -> bool:
        return (self.root / blob_name(sha256)).is_file()

    def put(self, sha256: str, source: BinaryIO) -> None:
        target = self.root / blob_name(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written beside its place and renamed into it: a reader never sees half a blob, and two writers of the same
        # content both end with the one whole file.
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(descriptor, "wb") as out:
                source.seek(0)
                while chunk := source.read(CHUNK):
                    out.write(chunk)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def chunks(self, sha256: str) -> Iterator[bytes]:
        blob = (self.root / blob_name(sha256)).open("rb")  # opened now: a missing blob fails before the answer starts
        return _read(blob)

    def delete(self, sha256: str) -> None:
        (self.root / blob_name(sha256)).unlink(missing_ok=True)


class S3Store:
    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None) -> None:
        import boto3  # only where S3 is used

        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.client: Any = boto3.client("s3", endpoint_url=endpoint_url)

    def _key(self, sha256: str) -> str:
        return f"{self.prefix}/{blob_name(sha256)}" if self.prefix else blob_name(sha256)

    def has(self, sha256: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(sha256))
        except ClientError as exc:
            # Without s3:ListBucket a missing key answers 403, not 404: the blob is written (again), which is harmless.
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound", "403", "AccessDenied"):
                return False
            raise
        return True

    def put(self, sha256: str, source: BinaryIO) -> None:
        source.seek(0)
        self.client.upload_fileobj(source, self.bucket, self._key(sha256))

    def chunks(self, sha256: str) -> Iterator[bytes]:
        body = self.client.get_object(Bucket=self.bucket, Key=self._key(sha256))["Body"]
        return _read(body)

    def delete(self, sha256: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(sha256))


def _read(source: Any) -> Iterator[bytes]:
    try:
        while chunk := source.read(CHUNK):
            yield chunk
    finally:
        source.close()


def from_settings(settings: Settings) -> BlobStore:
    where = settings.attachment_store
    if where.startswith("s3://"):
        bucket, _, prefix = where.removeprefix("s3://").partition("/")
        return S3Store(bucket, prefix, settings.s3_endpoint_url)
    return FolderStore(Path(where))
