"""Upload, list and download evidence, on both databases and in both stores."""

from __future__ import annotations

import hashlib
import io
import uuid
from urllib.parse import unquote

from PIL import Image

from tests.attachments.conftest import BOTH_STORES, PDF, Store, photo, upload
from tests.conftest import Caller

GPS_IFD = 0x8825


@BOTH_STORES
def test_an_upload_comes_back_byte_for_byte_with_its_type_and_name(intake: Caller, attachment_store: Store) -> None:
    complaint = intake.register()
    response = upload(intake, complaint["id"], PDF, filename="小票 2026-12-01.pdf", content_type="application/pdf")
    assert response.status_code == 201, response.text
    added = response.json()
    assert added["media_type"] == "application/pdf"
    assert (added["size"], added["sha256"]) == (len(PDF), hashlib.sha256(PDF).hexdigest())
    assert (added["filename"], added["visible_to_unit"], added["uploaded_by"]) == (
        "小票 2026-12-01.pdf",
        False,
        "agent-0042",
    )
    assert added["download"] == f"/v1/complaints/{complaint['id']}/attachments/{added['id']}"

    downloaded = intake.get(added["download"])
    assert downloaded.status_code == 200
    assert downloaded.content == PDF
    assert downloaded.headers["content-type"] == "application/pdf"
    assert downloaded.headers["x-content-type-options"] == "nosniff"
    disposition = downloaded.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == "小票 2026-12-01.pdf"

    listed = intake.get(f"/v1/complaints/{complaint['id']}/attachments").json()
    assert listed == [added]
    assert attachment_store.blobs().count(added["sha256"]) == 1


@BOTH_STORES
def test_the_same_bytes_uploaded_twice_are_kept_once(handler: Caller, attachment_store: Store) -> None:
    first, second = handler.register(), handler.register()
    receipt = photo(colour="blue")
    one = upload(handler, first["id"], receipt, filename="receipt.jpg").json()
    two = upload(handler, second["id"], receipt, filename="小票.jpg").json()
    again = upload(handler, first["id"], receipt, filename="receipt-again.jpg").json()

    assert one["sha256"] == two["sha256"] == again["sha256"]
    assert len({one["id"], two["id"], again["id"]}) == 3  # three uploads: three attachments, who and when each
    assert attachment_store.blobs().count(one["sha256"]) == 1
    assert handler.get(two["download"]).content == receipt
    assert [a["filename"] for a in handler.get(f"/v1/complaints/{first['id']}/attachments").json()] == [
        "receipt.jpg",
        "receipt-again.jpg",
    ]


@BOTH_STORES
def test_a_photo_is_kept_without_its_location_and_keeps_its_orientation(
    handler: Caller, attachment_store: Store
) -> None:
    original = photo(gps=True)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the test photo does carry a location

    added = upload(handler, handler.register()["id"], original).json()
    kept = handler.get(added["download"]).content

    exif = Image.open(io.BytesIO(kept)).getexif()
    assert exif.get_ifd(GPS_IFD) == {}
    assert GPS_IFD not in exif
    assert (exif[0x0112], exif[0x010F]) == (6, "TousuCam")
    assert added["sha256"] == hashlib.sha256(kept).hexdigest() != hashlib.sha256(original).hexdigest()
    assert attachment_store.blobs().count(added["sha256"]) == 1
    assert hashlib.sha256(original).hexdigest() not in attachment_store.blobs()


def test_png_and_webp_photos_lose_their_location_too(handler: Caller) -> None:
    complaint = handler.register()
    for kind, media_type in (("PNG", "image/png"), ("WEBP", "image/webp")):
        added = upload(handler, complaint["id"], photo(kind, gps=True), filename=f"photo.{kind.lower()}").json()
        assert added["media_type"] == media_type
        kept = Image.open(io.BytesIO(handler.get(added["download"]).content))
        assert kept.format == kind
        assert kept.getexif().get_ifd(GPS_IFD) == {}
        assert kept.getexif()[0x0112] == 6


def test_a_photo_without_a_location_is_kept_as_it_came(handler: Caller) -> None:
    original = photo()
    added = upload(handler, handler.register()["id"], original).json()
    assert handler.get(added["download"]).content == original


def test_a_renamed_executable_is_refused_and_nothing_is_kept(handler: Caller, attachment_store: Store) -> None:
    complaint = handler.register()
    before = attachment_store.blobs()
    elf = b"\x7fELF\x02\x01\x01\x00" + bytes(200)
    windows = b"MZ\x90\x00\x03\x00\x00\x00" + bytes(200)
    for executable in (elf, windows, b"<html><script>alert(1)</script></html>"):
        response = upload(handler, complaint["id"], executable, filename="photo.jpg", content_type="image/jpeg")
        assert response.status_code == 415, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/unsupported-attachment-type")
    assert attachment_store.blobs() == before
    assert handler.get(f"/v1/complaints/{complaint['id']}/attachments").json() == []
    assert [e["move"] for e in handler.get(f"/v1/complaints/{complaint['id']}/events").json()] == ["register"]


def test_the_clients_content_type_and_name_are_ignored(handler: Caller) -> None:
    added = upload(handler, handler.register()["id"], PDF, filename="photo.png", content_type="image/png").json()
    assert added["media_type"] == "application/pdf"
    assert handler.get(added["download"]).headers["content-type"] == "application/pdf"


def test_a_file_name_loses_its_folders_and_control_characters(handler: Caller) -> None:
    added = upload(handler, handler.register()["id"], PDF, filename="..\\..\\etc/pass\u202ewd.pdf").json()
    assert added["filename"] == "passwd.pdf"


def test_each_upload_and_each_change_of_visibility_is_in_the_history(handler: Caller) -> None:
    complaint = handler.register()
    added = upload(handler, complaint["id"], PDF, filename="发票.pdf").json()
    shown = handler.client.patch(added["download"], json={"visible_to_unit": True}, headers=handler.headers())
    assert shown.status_code == 200, shown.text
    assert shown.json()["visible_to_unit"] is True

    entries = handler.get(f"/v1/complaints/{complaint['id']}/events").json()
    assert [e["move"] for e in entries] == ["register", "attachment.added", "attachment.visibility_changed"]
    described = {
        "attachment_id": added["id"],
        "filename": "发票.pdf",
        "media_type": "application/pdf",
        "size": len(PDF),
        "sha256": added["sha256"],
        "download": added["download"],
    }
    assert entries[1]["payload"] == {**described, "visible_to_unit": False}
    assert entries[2]["payload"] == {**described, "visible_to_unit": True}
    assert entries[1]["actor"] == "handler-07"
    assert PDF.decode() not in str(entries)


def test_marking_it_as_it_already_is_writes_nothing(handler: Caller) -> None:
    complaint = handler.register()
    added = upload(handler, complaint["id"], PDF).json()
    again = handler.client.patch(added["download"], json={"visible_to_unit": False}, headers=handler.headers())
    assert again.status_code == 200
    assert len(handler.get(f"/v1/complaints/{complaint['id']}/events").json()) == 2


def test_visibility_takes_a_boolean_only(handler: Caller) -> None:
    added = upload(handler, handler.register()["id"], PDF).json()
    for body in ({"visible_to_unit": "yes"}, {"visible_to_unit": 1}, {}, {"visible_to_unit": True, "x": 1}):
        response = handler.client.patch(added["download"], json=body, headers=handler.headers())
        assert response.status_code == 422, body
    assert handler.get(added["download"].rsplit("/", 1)[0]).json()[0]["visible_to_unit"] is False


def test_unknown_complaint_and_unknown_attachment_are_problem_json_404(handler: Caller) -> None:
    unknown = uuid.uuid4()
    for response in (
        upload(handler, str(unknown), PDF),
        handler.get(f"/v1/complaints/{unknown}/attachments"),
        handler.get(f"/v1/complaints/{unknown}/attachments/{uuid.uuid4()}"),
    ):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == "application/problem+json"
    complaint = handler.register()
    for response in (
        handler.get(f"/v1/complaints/{complaint['id']}/attachments/{uuid.uuid4()}"),
        handler.client.patch(
            f"/v1/complaints/{complaint['id']}/attachments/{uuid.uuid4()}",
            json={"visible_to_unit": True},
            headers=handler.headers(),
        ),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["type"].endswith("/not-found")


def test_an_upload_without_a_file_is_422(handler: Caller) -> None:
    complaint = handler.register()
    response = handler.client.post(
        f"/v1/complaints/{complaint['id']}/attachments",
        data={"other": "x"},
        files={"x": ("a", b"b")},
        headers=handler.headers(),
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_a_reporter_reads_no_evidence(make_caller, handler: Caller) -> None:  # type: ignore[no-untyped-def]
    reporter = make_caller("reporter", actor="analyst-01")
    complaint = handler.register()
    added = upload(handler, complaint["id"], PDF).json()
    assert upload(reporter, complaint["id"], PDF).status_code == 403
    assert reporter.get(f"/v1/complaints/{complaint['id']}/attachments").status_code == 403
    assert reporter.get(added["download"]).status_code == 403
