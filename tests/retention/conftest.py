"""Complaints over four years, each with a person of its own planted in every place personal data can go: the contact,
the description, notes, a move's free text, an attachment's file name and bytes, the webhook deliveries and an
idempotent request's stored answer. Time is controlled (``frozen``)."""

from __future__ import annotations

import contextlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from app.config import Settings
from app.db import Database
from app.webhooks.dispatcher import Dispatcher
from tests.conftest import Caller, settings_of
from tests.sla.moments import frozen

STORE = "SZ-FT-012"
SHARED_BLOB = b"%PDF-1.7\n% SHARED-RECEIPT-TEMPLATE\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
APOLOGY = {"remedy": {"kind": "apology"}, "reply_channel": "sms"}
FEEDBACK = {"cause": "店员未按退货流程操作", "responsible_person": "李四", "responsibility": "staff_fault"}


@dataclass(frozen=True)
class Person:
    name: str
    phone: str
    email: str
    address: str

    @property
    def street(self) -> str:
        return self.address[6:]  # after the province and city (all planted addresses have 3-character ones)

    def spellings(self) -> list[str]:
        p = self.phone
        return [p, f"{p[:3]} {p[3:7]} {p[7:]}", f"{p[:3]}-{p[3:7]}-{p[7:]}", f"+86{p}"]

    def values(self) -> list[str]:
        return [self.name, *self.spellings(), self.email, self.address, self.street]

    def quoted(self) -> str:
        return (
            f"客户{self.name}（电话 {self.spellings()[1]}，邮箱 {self.email}，住址 {self.address}）反映店员态度恶劣。"
        )


ALPHA = Person("欧阳靖宇", "13987654321", "jingyu.ouyang@example.org", "浙江省杭州市西湖区文三路478号华星大厦7楼")
BRAVO = Person("司马光明", "15811112222", "guangming.sima@example.net", "四川省成都市武侯区科华北路65号2单元1102")
CHARLIE = Person("诸葛明月", "13622223333", "mingyue.zhuge@example.com", "广东省深圳市福田区福华路88号中心大厦")
DELTA = Person("上官婉清", "18633334444", "wanqing.sg@example.cn", "江苏省南京市鼓楼区中山路321号")
BRAVO_CORRECTED = {"phone": "158 9999 0000", "email": "new.sima@example.net"}  # b1's contact after a correction
ECHO = Person("东方既白", "17744445555", "jibai.df@example.com", "湖北省武汉市洪山区珞喻路1037号")


@pytest.fixture(scope="session")
def retention_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("retention") / "attachments"


@pytest.fixture
def settings(database_url: str, retention_folder: Path) -> Settings:
    """The same settings for every test (one app started for them all); the attachment folder emptied first, so
    that what is on disk is this test's. Webhooks go to a closed loopback port."""
    shutil.rmtree(retention_folder, ignore_errors=True)
    return settings_of(
        database_url=database_url,
        sweep_in_serve=False,
        dispatch_in_serve=False,
        attachment_store=str(retention_folder),
        webhook_allow_private=True,
        webhook_timeout_seconds=2,
    )


@dataclass
class Filled:
    """The complaints made, by label, with their people and the months to compare the summary of."""

    ids: dict[str, str] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)


def blob_of(label: str, person: Person) -> bytes:
    """A PDF whose bytes name the person: only this complaint's attachment has it."""
    return f"%PDF-1.7\n% {label} {person.name} {person.phone} {person.email}\ntrailer <<>>\n%%EOF\n".encode()


class Filler:
    def __init__(self, handler: Caller, supervisor: Caller, admin: Caller) -> None:
        self.handler, self.supervisor, self.admin = handler, supervisor, admin
        self.filled = Filled()

    def register(self, label: str, person: Person, at: tuple[int, ...], spelled: int = 0, **extra: Any) -> str:
        contact = {
            "name": person.name,
            "phone": person.spellings()[spelled],
            "email": person.email,
            "address": person.address,
            "customer_ref": f"CRM-{person.phone}",
        }
        body = {
            "complainant": contact,
            "channel": "phone",
            "category": "service_attitude",
            "store_id": STORE,
            "description": person.quoted(),
            "customer_request": f"请回电 {person.spellings()[2]}",
            **extra,
        }
        with frozen(*at):
            response = self.handler.post("/v1/complaints", json=body, headers={"Idempotency-Key": f"crm-{label}"})
            assert response.status_code == 201, response.text
            complaint_id: str = response.json()["id"]
            note = {
                "text": f"客户 {person.name} 又来电 {person.spellings()[3]}，邮箱 {person.email}",
                "visible_to_unit": True,
            }
            assert self.handler.post(f"/v1/complaints/{complaint_id}/notes", json=note).status_code == 201
            for name, data in ((f"{person.name}的小票.pdf", blob_of(label, person)), ("receipt.pdf", SHARED_BLOB)):
                uploaded = self.handler.client.post(
                    f"/v1/complaints/{complaint_id}/attachments",
                    files={"file": (name, data, "application/pdf")},
                    headers=self.handler.headers(),
                )
                assert uploaded.status_code == 201, uploaded.text
        self.filled.ids[label] = complaint_id
        self.filled.people[label] = person
        return complaint_id

    def move(self, label: str, move: str, at: tuple[int, ...], body: Any = None, by: Caller | None = None) -> None:
        with frozen(*at):
            (by or self.handler).move(self.filled.ids[label], move, body)

    def closed_as_revisited(self, label: str, person: Person, day: tuple[int, int, int], refund: str | None) -> None:
        y, m, d = day
        self.move(label, "investigate", (y, m, d, 11, 0), {"store_id": STORE, "note": f"联系 {person.name}"})
        self.move(label, "store-feedback", (y, m, d, 15, 0), {**FEEDBACK, "store_id": STORE})
        if refund is None:
            self.move(label, "resolve", (y, m, d + 1, 10, 0), {**APOLOGY, "reply": f"{person.name}您好，非常抱歉。"})
        else:
            remedy = {"remedy": {"kind": "refund", "amount": refund}, "reply_channel": "sms"}
            self.move(label, "propose", (y, m, d + 1, 9, 0), {**remedy, "reply": f"{person.name}您好，已退款。"})
            self.move(label, "approve", (y, m, d + 1, 10, 0), by=self.supervisor)
            self.move(label, "fulfil", (y, m, d + 1, 16, 0), {"payment_reference": f"WX-{person.phone}"})
        revisit = {"satisfaction": "neutral", "improvement": f"请以后直接打 {person.spellings()[1]}"}
        self.move(label, "revisit", (y, m, d + 2, 10, 0), revisit)

    def rejected(self, label: str, at: tuple[int, ...]) -> None:
        person = self.filled.people[label]
        explanation = f"已向{person.name}（{person.spellings()[2]}）解释，收费无误。"
        self.move(label, "reject", at, {"reason": "misunderstanding", "explanation": explanation})


def fill(handler: Caller, supervisor: Caller, admin: Caller, settings: Settings, db: Database) -> Filled:
    """Four years of complaints; at 2026-06-01 (retention 1095 days) a1, a2 and b1 are past it, the others not."""
    endpoint = admin.post("/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/tousu"})
    assert endpoint.status_code == 201, endpoint.text
    f = Filler(handler, supervisor, admin)
    # 2022-03: one person twice (a repeat complainant of the month), the phone spelled two ways.
    f.register("a1", ALPHA, (2022, 3, 10, 9, 0))
    f.rejected("a1", (2022, 3, 10, 15, 0))
    f.register("a2", ALPHA, (2022, 3, 20, 9, 0), spelled=3)
    f.closed_as_revisited("a2", ALPHA, (2022, 3, 21), refund="300.00")
    # 2022-06: old, and still open: kept.
    f.register("d1", DELTA, (2022, 6, 1, 9, 0))
    f.move("d1", "investigate", (2022, 6, 1, 10, 0), {"store_id": STORE})
    # 2023-01: closed long ago.
    b1 = f.register("b1", BRAVO, (2023, 1, 5, 9, 0), category="billing")
    with frozen(2023, 1, 5, 10, 0):
        version = handler.get(f"/v1/complaints/{b1}").json()["version"]
        correction = {"complainant": BRAVO_CORRECTED, "reason": "客户来电更正联系方式"}
        headers = handler.headers({"If-Match": f'"{version}"'})
        corrected = handler.client.patch(f"/v1/complaints/{b1}", json=correction, headers=headers)
        assert corrected.status_code == 200, corrected.text
    f.closed_as_revisited("b1", BRAVO, (2023, 1, 9), refund=None)
    # 2024-05: closed, but not yet three years ago.
    f.register("c1", CHARLIE, (2024, 5, 6, 9, 0))
    f.rejected("c1", (2024, 5, 6, 15, 0))
    # 2025-11: closed recently.
    f.register("e1", ECHO, (2025, 11, 3, 9, 0))
    f.closed_as_revisited("e1", ECHO, (2025, 11, 3), refund="88.80")
    with frozen(2026, 6, 1, 8, 0):
        Dispatcher(db, settings).once()  # the outbox fanned out: deliveries stored (the receiver is not there)
    return f.filled


MONTHS = [("2022-03-01", "2022-03-31"), ("2022-06-01", "2022-06-30"), ("2023-01-01", "2023-01-31"),
          ("2024-05-01", "2024-05-31"), ("2025-11-01", "2025-11-30")]  # fmt: skip


def summaries(caller: Caller) -> dict[str, Any]:
    """The summary of each month, as a manager reads it; the repeat complainants' masked phones left out (a
    placeholder's mask is not the phone's, which is the point)."""
    found = {}
    for start, end in MONTHS:
        response = caller.get("/v1/reports/summary", params={"from": start, "to": end, "group_by": "store"})
        assert response.status_code == 200, response.text
        report = response.json()
        for each in report.get("top_repeat_complainants", []):
            each.pop("phone")
        report.pop("generated_at", None)
        found[start] = report
    return found


def dump(db: Database) -> str:
    """Every row of every table, every column, as text; JSON (in JSON columns or stored as text) with its escapes
    undone."""
    parts = []
    with db.engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    parts.append(_as_text(value))
    return "\n".join(parts)


def _as_text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    shown = str(value)
    if isinstance(value, str) and value[:1] in "[{":
        with contextlib.suppress(ValueError):
            shown += json.dumps(json.loads(value), ensure_ascii=False)
    return shown


def stored_files(settings: Settings) -> dict[str, bytes]:
    root = Path(settings.attachment_store)
    return {p.name: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def found_in(haystack: str, person: Person) -> list[str]:
    return [value for value in person.values() if value in haystack]


def where(haystack: str, person: Person) -> list[str]:
    """Where the person's values are found: for the failure message."""
    places = []
    for value in person.values():
        at = haystack.find(value)
        if at != -1:
            places.append(haystack[max(0, at - 120) : at + 40].replace("\n", " | "))
    return places
