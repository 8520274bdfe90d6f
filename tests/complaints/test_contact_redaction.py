"""Free text quoting a mobile number is redacted however the number is written, country code included."""

from __future__ import annotations

import pytest

from app.complaints.contact import Contact

CONTACT = Contact.of("欧阳娜娜", "13912344321", None, None, None)


@pytest.mark.parametrize(
    "written",
    [
        "13987654321",
        "139 8765 4321",
        "139-8765-4321",
        "+8613987654321",
        "+86 139 8765 4321",
        "0086 13987654321",
        "86-139-8765-4321",
    ],
)
def test_any_mobile_in_a_text_is_masked(written: str) -> None:
    redacted = CONTACT.redact(f"客户另留电话{written}，请回电。")
    assert redacted == "客户另留电话139****4321，请回电。", redacted


def test_numbers_that_are_no_mobile_stay() -> None:
    text = "订单号 2026112412345678，金额 13987654321000 元以内的编号不是手机号"
    assert CONTACT.redact(text) == text
