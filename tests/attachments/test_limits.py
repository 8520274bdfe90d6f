"""The size limit: refused with 413 as soon as it is passed, nothing kept, and the body not read to its end."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import pytest

from app.attachments import service
from app.attachments.exceptions import AttachmentTooLarge
from app.attachments.storage import CHUNK
from tests.attachments.conftest import BOTH_STORES, PDF, Store, upload
from tests.conftest import Caller, LiveServer, complaint_body

LIMIT = 4096
SMALL_LIMIT = pytest.mark.parametrize("attachment_limit", [LIMIT], indirect=True)


def pdf_of(size: int) -> bytes:
    return PDF + b"%" * (size - len(PDF))


@BOTH_STORES
@SMALL_LIMIT
def test_an_attachment_over_the_limit_is_413_and_nothing_is_kept(handler: Caller, attachment_store: Store) -> None:
    complaint = handler.register()
    before = attachment_store.blobs()
    response = upload(handler, complaint["id"], pdf_of(LIMIT + 1), filename="big.pdf")
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["limit"] == LIMIT
    assert attachment_store.blobs() == before
    assert handler.get(f"/v1/complaints/{complaint['id']}/attachments").json() == []
    assert [e["move"] for e in handler.get(f"/v1/complaints/{complaint['id']}/events").json()] == ["register"]

    assert upload(handler, complaint["id"], pdf_of(LIMIT), filename="just.pdf").status_code == 201


@SMALL_LIMIT
def test_a_declared_length_far_over_the_limit_is_refused_before_it_is_read(handler: Caller) -> None:
    complaint = handler.register()
    response = upload(handler, complaint["id"], pdf_of(LIMIT + 200 * 1024))
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


def test_an_upload_is_not_held_to_the_json_body_limit(handler: Caller, attachment_store: Store) -> None:
    two_mebibytes = pdf_of(2 * 1024 * 1024)  # the JSON body limit is 1 MiB
    added = upload(handler, handler.register()["id"], two_mebibytes, filename="scan.pdf")
    assert added.status_code == 201, added.text
    assert handler.get(added.json()["download"]).content == two_mebibytes


def test_other_bodies_keep_the_json_limit(handler: Caller) -> None:
    complaint = handler.register()
    response = handler.post(f"/v1/complaints/{complaint['id']}/notes", json={"text": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413


class Counted(io.RawIOBase):
    """A file of ``size`` bytes that counts what is read of it."""

    def __init__(self, size: int) -> None:
        self.size, self.read_so_far = size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), self.size - self.read_so_far)
        buffer[:count] = b"%" * count
        self.read_so_far += count
        return count


def test_the_service_reads_at_most_the_limit_and_one_chunk() -> None:
    huge = Counted(1024 * 1024 * 1024)
    with pytest.raises(AttachmentTooLarge):
        service.receive(huge, 10 * CHUNK)  # type: ignore[arg-type]
    assert huge.read_so_far <= 11 * CHUNK


@SMALL_LIMIT
def test_a_streamed_body_over_the_limit_is_cut_short(live_server: LiveServer) -> None:
    """Sent without a length, 64 MiB of it: the server answers 413 once the limit (and the form's lines) is
    passed and reads no further; what was sent is at most what the sockets' buffers took in."""
    caller = live_server.caller("handler")
    complaint = caller.post("/v1/complaints", json=complaint_body()).json()
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        boundary = b"--tousu-test\r\n"
        yield boundary + b'Content-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n' + PDF
        for _ in range(1024):
            sent += CHUNK
            yield b"%" * CHUNK
        yield b"\r\n--tousu-test--\r\n"

    headers = caller.headers({"Content-Type": "multipart/form-data; boundary=tousu-test"})
    try:
        response = httpx.post(
            f"{live_server.url}/v1/complaints/{complaint['id']}/attachments", content=body(), headers=headers
        )
        assert response.status_code == 413
        assert response.headers["connection"] == "close"
    except httpx.TransportError:
        pass  # the server closed the connection while the client was still sending: cut short all the same
    assert sent < 16 * 1024 * 1024, f"{sent} bytes sent before the server stopped reading"
    listed = caller.get(f"/v1/complaints/{complaint['id']}/attachments").json()
    assert listed == []
