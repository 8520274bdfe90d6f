"""A store key reads only the attachments marked visible to it, of complaints dispatched to it: planted names and
bytes of the others never reach it, in any response."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tests.attachments.conftest import BOTH_STORES, PDF, upload
from tests.conftest import Caller
from tests.planted import holds_digits

INTERNAL_NAME = "INTERNAL-质检内部报告-7731.pdf"
INTERNAL_BYTES = PDF + b"%PLANTED-INTERNAL-BYTES-0x5eed"
OTHER_NAME = "OTHER-STORE-南山店证据-4412.pdf"
OTHER_BYTES = PDF + b"%PLANTED-OTHER-STORE-BYTES"
SHOWN_BYTES = PDF + b"%shown-receipt"


def show(caller: Caller, attachment: dict[str, Any], visible: bool = True) -> None:
    response = caller.client.patch(attachment["download"], json={"visible_to_unit": visible}, headers=caller.headers())
    assert response.status_code == 200, response.text


def everything(caller: Caller, complaint_id: str, attachment_ids: list[str]) -> bytes:
    """Every byte the caller gets from every read about this complaint and these attachments."""
    paths = [
        f"/v1/complaints/{complaint_id}",
        f"/v1/complaints/{complaint_id}/events",
        f"/v1/complaints/{complaint_id}/attachments",
        "/v1/complaints",
        *(f"/v1/complaints/{complaint_id}/attachments/{a}" for a in attachment_ids),
    ]
    return b"".join(caller.get(path).content for path in paths)


@BOTH_STORES
def test_a_store_never_gets_an_internal_attachment_nor_another_stores(
    handler: Caller, make_caller: Callable[..., Caller]
) -> None:
    store = make_caller("store", store_id="SZ-FT-012", actor="店长王五")
    ours = handler.register()
    handler.move(ours["id"], "investigate", {"store_id": "SZ-FT-012"})
    internal = upload(handler, ours["id"], INTERNAL_BYTES, filename=INTERNAL_NAME).json()
    shown = upload(handler, ours["id"], SHOWN_BYTES, filename="小票.pdf").json()
    show(handler, shown)
    theirs = handler.register(store_id="SZ-NS-003")
    handler.move(theirs["id"], "investigate", {"store_id": "SZ-NS-003"})
    other = upload(handler, theirs["id"], OTHER_BYTES, filename=OTHER_NAME).json()
    show(handler, other)

    listed = store.get(f"/v1/complaints/{ours['id']}/attachments").json()
    assert [a["id"] for a in listed] == [shown["id"]]
    assert store.get(shown["download"]).content == SHOWN_BYTES

    unknown = store.get(f"/v1/complaints/{ours['id']}/attachments/{uuid.uuid4()}")
    hidden = store.get(internal["download"])
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.headers["content-type"] == unknown.headers["content-type"] == "application/problem+json"
    assert {k: v for k, v in hidden.json().items() if k != "detail"} == {
        k: v for k, v in unknown.json().items() if k != "detail"
    }
    for path in (f"/v1/complaints/{theirs['id']}/attachments", other["download"]):
        assert store.get(path).status_code == 404

    received = everything(store, ours["id"], [internal["id"], shown["id"]]) + everything(
        store, theirs["id"], [other["id"]]
    )
    for planted in (INTERNAL_NAME.encode(), b"PLANTED-INTERNAL", OTHER_NAME.encode(), b"PLANTED-OTHER"):
        assert planted not in received, planted
    assert not holds_digits(received, "7731"), "the internal file's name, in part"
    assert internal["sha256"].encode() not in received
    assert other["sha256"].encode() not in received


def test_an_attachment_made_internal_again_is_gone_for_the_store(
    handler: Caller, make_caller: Callable[..., Caller]
) -> None:
    store = make_caller("store", store_id="SZ-FT-012")
    complaint = handler.register()
    handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})
    added = upload(handler, complaint["id"], SHOWN_BYTES).json()
    show(handler, added)
    assert store.get(added["download"]).status_code == 200
    show(handler, added, visible=False)
    assert store.get(added["download"]).status_code == 404
    assert store.get(f"/v1/complaints/{complaint['id']}/attachments").json() == []


def test_a_store_sees_nothing_before_the_complaint_is_dispatched_to_it(
    handler: Caller, make_caller: Callable[..., Caller]
) -> None:
    store = make_caller("store", store_id="SZ-FT-012")
    complaint = handler.register()  # about store SZ-FT-012, not yet dispatched
    added = upload(handler, complaint["id"], SHOWN_BYTES).json()
    show(handler, added)
    assert store.get(added["download"]).status_code == 404
    assert store.get(f"/v1/complaints/{complaint['id']}/attachments").status_code == 404


def test_a_store_may_neither_upload_nor_mark(handler: Caller, make_caller: Callable[..., Caller]) -> None:
    store = make_caller("store", store_id="SZ-FT-012")
    complaint = handler.register()
    handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})
    added = upload(handler, complaint["id"], SHOWN_BYTES).json()
    show(handler, added)
    assert upload(store, complaint["id"], PDF).status_code == 403
    response = store.client.patch(added["download"], json={"visible_to_unit": False}, headers=store.headers())
    assert response.status_code == 403
    assert len(handler.get(f"/v1/complaints/{complaint['id']}/attachments").json()) == 1


def test_a_file_name_that_quotes_the_complainant_is_masked_for_the_store(
    handler: Caller, make_caller: Callable[..., Caller]
) -> None:
    store = make_caller("store", store_id="SZ-FT-012")
    complaint = handler.register()  # 张三, 138 1234 8000
    handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})
    added = upload(handler, complaint["id"], SHOWN_BYTES, filename="张三-13812348000-小票.pdf").json()
    show(handler, added)
    (listed,) = store.get(f"/v1/complaints/{complaint['id']}/attachments").json()
    assert listed["filename"] == "张*-138****8000-小票.pdf"
    assert listed["sha256"] == added["sha256"]
    received = everything(store, complaint["id"], [added["id"]])
    assert b"13812348000" not in received
    assert "张三".encode() not in received
    assert "张三" in handler.get(f"/v1/complaints/{complaint['id']}/attachments").json()[0]["filename"]


@BOTH_STORES
def test_a_department_reads_the_attachments_shown_to_it_and_no_others(
    handler: Caller, make_caller: Callable[..., Caller]
) -> None:
    """A department key is a unit's key like a store's: the shown attachments of its own complaints, nothing else."""
    quality = make_caller("department", department="品管部", actor="qa-01")
    ours = handler.register(department="品管部", store_id=None)
    handler.move(ours["id"], "investigate", {"department": "品管部"})
    internal = upload(handler, ours["id"], INTERNAL_BYTES, filename=INTERNAL_NAME).json()
    shown = upload(handler, ours["id"], SHOWN_BYTES, filename="小票.pdf").json()
    show(handler, shown)
    theirs = handler.register(store_id="SZ-NS-003")
    handler.move(theirs["id"], "investigate", {"store_id": "SZ-NS-003"})
    other = upload(handler, theirs["id"], OTHER_BYTES, filename=OTHER_NAME).json()
    show(handler, other)

    assert [a["id"] for a in quality.get(f"/v1/complaints/{ours['id']}/attachments").json()] == [shown["id"]]
    assert quality.get(shown["download"]).content == SHOWN_BYTES
    assert quality.get(internal["download"]).status_code == 404
    assert quality.get(other["download"]).status_code == 404
    assert quality.get(f"/v1/complaints/{theirs['id']}/attachments").status_code == 404
    got = everything(quality, ours["id"], [internal["id"], shown["id"]]) + everything(
        quality, theirs["id"], [other["id"]]
    )
    for planted in (INTERNAL_NAME, OTHER_NAME):
        assert planted.encode() not in got
    assert b"PLANTED" not in got
    refused = quality.client.post(
        f"/v1/complaints/{ours['id']}/attachments",
        files={"file": ("x.pdf", PDF, "application/pdf")},
        headers=quality.headers(),
    )
    assert refused.status_code == 403
