"""The type from the first bytes; HEIC kept only without EXIF (tousu reads HEIC without a decoder)."""

from __future__ import annotations

import io
import logging
import struct

import pytest

from app.attachments import content
from tests.attachments.conftest import PDF, photo, upload
from tests.conftest import Caller


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def full_box(kind: bytes, version: int, payload: bytes) -> bytes:
    return box(kind, bytes([version, 0, 0, 0]) + payload)


def infe(item_id: int, item_type: bytes) -> bytes:
    return full_box(b"infe", 2, struct.pack(">HH4s", item_id, 0, item_type) + b"\x00")


def heic(*item_types: bytes) -> bytes:
    """A HEIC file's skeleton: ftyp, a meta box declaring ``item_types``, and some image data."""
    ftyp = box(b"ftyp", b"heic" + bytes(4) + b"mif1heic")
    iinf = full_box(
        b"iinf", 0, struct.pack(">H", len(item_types)) + b"".join(infe(i + 1, t) for i, t in enumerate(item_types))
    )
    meta = full_box(b"meta", 0, full_box(b"hdlr", 0, bytes(4) + b"pict" + bytes(13)) + iinf)
    return ftyp + meta + box(b"mdat", b"\x00" * 256)


def m4a() -> bytes:
    return box(b"ftyp", b"M4A " + bytes(4) + b"M4A mp42isom") + box(b"mdat", bytes(64))


WAV = b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + bytes(32)
MP3_ID3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(32)
MP3_FRAME = b"\xff\xfb\x90\x64" + bytes(64)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (photo("JPEG"), "image/jpeg"),
        (photo("PNG"), "image/png"),
        (photo("WEBP"), "image/webp"),
        (heic(b"hvc1"), "image/heic"),
        (PDF, "application/pdf"),
        (MP3_ID3, "audio/mpeg"),
        (MP3_FRAME, "audio/mpeg"),
        (m4a(), "audio/mp4"),
        (WAV, "audio/wav"),
        (b"\x7fELF\x02\x01\x01", None),
        (b"MZ\x90\x00", None),
        (b"PK\x03\x04", None),
        (box(b"ftyp", b"qt  " + bytes(4) + b"qt  "), None),
        (b"GIF89a", None),
        (b"", None),
    ],
)
def test_the_type_is_read_from_the_first_bytes(data: bytes, expected: str | None) -> None:
    assert content.sniff(data[: content.HEAD]) == expected


def test_a_heic_photo_without_exif_is_kept(handler: Caller) -> None:
    data = heic(b"hvc1", b"hvc1")
    added = upload(handler, handler.register()["id"], data, filename="IMG_0001.HEIC")
    assert added.status_code == 201, added.text
    assert added.json()["media_type"] == "image/heic"
    assert handler.get(added.json()["download"]).content == data


def test_a_heic_photo_with_exif_is_refused(handler: Caller) -> None:
    complaint = handler.register()
    response = upload(handler, complaint["id"], heic(b"hvc1", b"Exif"), filename="IMG_0002.HEIC")
    assert response.status_code == 422
    assert "JPEG" in response.json()["detail"]
    assert handler.get(f"/v1/complaints/{complaint['id']}/attachments").json() == []


def test_a_broken_heic_is_refused() -> None:
    with pytest.raises(content.Unreadable):
        content.without_location(content.HEIC, io.BytesIO(box(b"ftyp", b"heic" + bytes(8)) + b"\x00\x00\x10\x00meta"))


def test_a_broken_jpeg_is_refused(handler: Caller) -> None:
    broken = photo(gps=True)[:200]
    response = upload(handler, handler.register()["id"], broken)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_a_huge_photo_with_a_location_is_refused_before_it_is_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(content, "MAX_PIXELS", 64 * 48 - 1)
    with pytest.raises(content.Unreadable, match="pixels"):
        content.without_location(content.JPEG, io.BytesIO(photo(gps=True)))
    assert content.without_location(content.JPEG, io.BytesIO(photo())) is None  # no location: kept as it came


def test_nothing_of_an_upload_is_logged(handler: Caller, caplog: pytest.LogCaptureFixture) -> None:
    planted = PDF + b"%PLANTED-LOG-BYTES-9d1c"
    with caplog.at_level(logging.DEBUG):
        assert upload(handler, handler.register()["id"], planted, filename="log-check.pdf").status_code == 201
        assert upload(handler, handler.register()["id"], b"MZ-PLANTED-LOG-BYTES").status_code == 415
    assert any(record.name == "tousu.access" for record in caplog.records)  # the logs were heard
    assert "PLANTED-LOG-BYTES" not in caplog.text
    assert all("PLANTED-LOG-BYTES" not in str(record.__dict__) for record in caplog.records)


def test_an_s3_store_names_its_bucket() -> None:
    from pydantic import ValidationError

    from app.config import Settings

    with pytest.raises(ValidationError, match="bucket"):
        Settings(attachment_store="s3:///evidence")
    assert Settings(attachment_store="s3://tousu-evidence").attachment_store == "s3://tousu-evidence"
