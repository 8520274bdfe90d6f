"""A person's access and erasure requests (PIPL Art. 45, 47): admin keys only, found by the phone in any spelling,
all or nothing while a complaint is open, and audited without anything of the person."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import text

from app.auth.models import Role
from app.config import Settings
from app.db import Database
from tests.conftest import Caller
from tests.retention.conftest import (
    ALPHA,
    BRAVO,
    DELTA,
    SHARED_BLOB,
    Person,
    blob_of,
    dump,
    fill,
    found_in,
    stored_files,
    where,
)
from tests.sla.moments import frozen

REASON = "客户来电要求删除其个人信息"


def audit(db: Database) -> list[dict[str, Any]]:
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM data_subject_requests ORDER BY at, id")).mappings()
        return [dict(row) for row in rows]


def path(person: Person, spelled: int = 0) -> str:
    return "/v1/data-subjects/" + quote(person.spellings()[spelled], safe="")


def test_an_export_holds_every_complaint_of_the_phone_in_any_spelling_with_history_and_attachments(
    handler: Caller, supervisor: Caller, admin: Caller, db: Database, settings: Settings
) -> None:
    filled = fill(handler, supervisor, admin, settings, db)
    with frozen(2026, 6, 1, 10, 0):
        exports = [admin.get(path(ALPHA, spelled)) for spelled in range(4)]
    assert [response.status_code for response in exports] == [200] * 4
    export = exports[0].json()
    assert all(response.json()["complaints"] == export["complaints"] for response in exports)
    assert export["phone"] == ALPHA.phone and export["exported_at"].endswith("+08:00")
    assert [each["complaint"]["id"] for each in export["complaints"]] == [filled.ids["a1"], filled.ids["a2"]]
    first = export["complaints"][0]
    assert first["complaint"]["complainant"]["name"] == ALPHA.name  # whole: it is the person's own data
    assert [entry["move"] for entry in first["history"]][:2] == ["register", "note"]
    assert sorted(a["filename"] for a in first["attachments"]) == sorted([f"{ALPHA.name}的小票.pdf", "receipt.pdf"])

    zipped = admin.get(path(ALPHA), headers={"Accept": "application/zip"})
    assert zipped.status_code == 200 and zipped.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(zipped.content))
    assert json.loads(archive.read("complaints.json"))["complaints"] == export["complaints"]
    files = {name: archive.read(name) for name in archive.namelist() if name.startswith("attachments/")}
    assert sorted(files.values()) == sorted([blob_of("a1", ALPHA), blob_of("a2", ALPHA), SHARED_BLOB, SHARED_BLOB])

    requests = audit(db)
    assert [(r["kind"], r["actor"], r["complaint_count"]) for r in requests] == [("export", "admin-01", 2)] * 5
    ids = requests[0]["complaint_ids"]
    assert sorted(ids if isinstance(ids, list) else json.loads(ids)) == sorted([filled.ids["a1"], filled.ids["a2"]])
    assert found_in(json.dumps(requests, ensure_ascii=False, default=str), ALPHA) == []


def test_an_erasure_anonymises_the_person_now_and_is_audited_with_its_reason(
    handler: Caller, supervisor: Caller, admin: Caller, db: Database, settings: Settings
) -> None:
    filled = fill(handler, supervisor, admin, settings, db)
    with frozen(2026, 6, 1, 10, 0):
        erased = admin.post(path(ALPHA, 1) + "/erase", json={"reason": REASON})
    assert erased.status_code == 200, erased.text
    body = erased.json()
    assert body["complaint_ids"] == [filled.ids["a1"], filled.ids["a2"]]
    assert body["erased_at"] == "2026-06-01T10:00:00+08:00"

    left = dump(db) + "\n".join(data.decode("utf-8", "replace") for data in stored_files(settings).values())
    assert found_in(left, ALPHA) == [], where(left, ALPHA)
    assert found_in(left, BRAVO) == BRAVO.values()  # no one else's
    assert SHARED_BLOB in stored_files(settings).values()
    (request,) = audit(db)
    assert (request["kind"], request["actor"], request["reason"], request["complaint_count"]) == (
        "erase",
        "admin-01",
        REASON,
        2,
    )
    assert found_in(json.dumps(request, ensure_ascii=False, default=str), ALPHA) == []
    admin_keys = {key["id"] for key in admin.get("/v1/api-keys").json() if key["role"] == "admin"}
    assert str(uuid.UUID(str(request["api_key_id"]))) in admin_keys  # which key, besides who
    # Gone by the phone: nothing to export or erase again.
    assert admin.get(path(ALPHA)).status_code == 404
    assert admin.post(path(ALPHA) + "/erase", json={"reason": REASON}).status_code == 404


def test_an_erasure_is_refused_while_a_complaint_is_open_and_nothing_is_erased(
    handler: Caller, supervisor: Caller, admin: Caller, db: Database, settings: Settings
) -> None:
    filled = fill(handler, supervisor, admin, settings, db)
    with frozen(2026, 6, 1, 9, 0):
        closed = handler.register(
            complainant={"name": DELTA.name, "phone": DELTA.phone}, description=f"{DELTA.name}再次来电"
        )
        handler.move(closed["id"], "reject", {"reason": "duplicate", "explanation": "与前一投诉重复"})
    before = dump(db)

    refused = admin.post(path(DELTA, 2) + "/erase", json={"reason": REASON})

    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["open_complaints"] == [{"id": filled.ids["d1"], "number": problem["open_complaints"][0]["number"],
                                           "state": "investigating"}]  # fmt: skip
    assert dump(db) == before and audit(db) == []
    assert admin.get(f"/v1/complaints/{closed['id']}").json()["complainant"]["name"] == DELTA.name


@pytest.mark.parametrize("role", [Role.handler, Role.supervisor, Role.manager, Role.intake, Role.store])
def test_only_an_admin_key_may_export_or_erase(
    role: Role, make_caller: Any, handler: Caller, supervisor: Caller, admin: Caller, db: Database, settings: Settings
) -> None:
    fill(handler, supervisor, admin, settings, db)
    caller = make_caller(role, store_id="SZ-FT-012" if role is Role.store else None)
    exported = caller.get(path(ALPHA))
    erased = caller.post(path(ALPHA) + "/erase", json={"reason": REASON})
    for response in (exported, erased):
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert found_in(response.text, ALPHA) == []
    assert admin.client.get(path(ALPHA)).status_code == 401
    assert audit(db) == []
    assert found_in(dump(db), ALPHA) == ALPHA.values()


def test_an_unknown_phone_is_404_and_a_malformed_one_422(admin: Caller, db: Database) -> None:
    unknown = admin.get("/v1/data-subjects/13500001111")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert "13500001111" not in unknown.text
    assert admin.post("/v1/data-subjects/13500001111/erase", json={"reason": REASON}).status_code == 404
    assert admin.get("/v1/data-subjects/not-a-phone").status_code == 422
    assert admin.post("/v1/data-subjects/13500001111/erase", json={}).status_code == 422
    assert audit(db) == []
