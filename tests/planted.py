"""Planted personal data: distinctive names, phone numbers, e-mail and postal addresses on the complaints of two stores,
in the contact fields and quoted in free text, and the search for them in what a store key or a store-bound webhook
endpoint gets (tests/test_visibility.py, tests/webhooks/test_targets.py)."""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

from tests.conftest import Caller

OWN, OTHER = "SZ-FT-012", "GZ-TH-003"

# Planted on the complaint of store OWN: the store may see these masked, never whole.
MINE = {
    "name": "欧阳靖宇",
    "phone": "13987654321",
    "email": "jingyu.ouyang@example.org",
    "address": "浙江省杭州市西湖区文三路478号华星大厦7楼",
}
MY_STREET = "西湖区文三路478号华星大厦7楼"  # the address after its province and city: a store never sees it
# Planted on the complaint of store OTHER: the store may see nothing of these, masked or not.
THEIRS = {
    "name": "司马光明",
    "phone": "15811112222",
    "email": "guangming.sima@example.net",
    "address": "四川省成都市武侯区科华北路65号2单元1102",
}
THEIR_STREET = "武侯区科华北路65号2单元1102"
THEIR_MARK = "THEIR-MARK-7Q4Z"  # in the other complaint's description and notes

FEEDBACK = {"cause": "店员未按退货流程操作", "responsible_person": "李四", "responsibility": "staff_fault"}


# Ids, left out when digits are looked for: each of their groups stands apart.
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def holds_digits(body: bytes | str, digits: str) -> bool:
    """Whether ``body`` holds ``digits`` outside its ids and apart from other hex digits, as a masked phone or a file
    name shows them. Ids, hashes and timestamps hold any four digits by chance now and then: a UUIDv7
    ``...-7731-...`` once failed a run as a leak of the file name ``...-7731.pdf``, and 7777 turned up in a store's
    message that named no one."""
    text = UUID.sub(" ", body if isinstance(body, str) else body.decode(errors="replace"))
    return re.search(rf"(?<![0-9a-fA-F]){re.escape(digits)}(?![0-9a-fA-F])", text) is not None


def quoting(person: dict[str, str]) -> str:
    """A description as an agent types it: the customer's name, number (spaced), e-mail and address quoted."""
    spaced = f"{person['phone'][:3]} {person['phone'][3:7]} {person['phone'][7:]}"
    return f"客户{person['name']}（电话 {spaced}，邮箱 {person['email']}，住址 {person['address']}）反映店员态度恶劣。"


def forbidden_values(person: dict[str, str]) -> list[str]:
    phone = person["phone"]
    street = MY_STREET if person is MINE else THEIR_STREET
    return [person["name"], phone, f"{phone[:3]} {phone[3:7]} {phone[7:]}", person["email"], person["address"], street]


def plant(handler: Caller) -> dict[str, dict[str, Any]]:
    """One complaint per store, each dispatched to its store, fed back, and noted about internally and openly."""
    complaints = {}
    for store_id, person, extra in ((OWN, MINE, ""), (OTHER, THEIRS, THEIR_MARK)):
        complaint = handler.register(
            store_id=store_id,
            complainant={**person, "customer_ref": f"CRM-{person['phone']}"},
            description=quoting(person) + extra,
            customer_request=f"请回电 {person['phone']} {extra}",
        )
        handler.move(complaint["id"], "investigate", {"store_id": store_id, "note": f"联系 {person['name']}"})
        for visible in (False, True):
            note = {"text": f"客户 {person['name']} 又来电 {person['phone']} {extra}", "visible_to_unit": visible}
            assert handler.post(f"/v1/complaints/{complaint['id']}/notes", json=note).status_code == 201
        handler.move(complaint["id"], "store-feedback", {**FEEDBACK, "cause": f"{FEEDBACK['cause']} {extra}"})
        complaints[store_id] = handler.get(f"/v1/complaints/{complaint['id']}").json()
    return complaints


def leaks(data: bytes, planted: dict[str, dict[str, Any]], asked: str = "") -> list[str]:
    """What of the planted data is in ``data``: anything of the other store's complaint (but its id, where the
    request ``asked`` for it), or an unmasked value of the store's own. JSON escapes are undone first, so an
    escaped value is found too."""
    text = data.decode("utf-8", errors="replace")
    with contextlib.suppress(ValueError):
        text += json.dumps(json.loads(text), ensure_ascii=False)
    theirs = planted[OTHER]
    wanted = [*forbidden_values(THEIRS), THEIR_MARK, theirs["id"], theirs["number"], *forbidden_values(MINE)]
    wanted.append(f"CRM-{MINE['phone']}")
    return [value for value in wanted if value in text and value not in asked]
