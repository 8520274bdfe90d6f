"""Complainants' contact details: phone normalisation and the masks a store sees."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-()（）]")
_MAINLAND_MOBILE = re.compile(r"1[3-9]\d{9}")


def normalize_phone(raw: str) -> str:
    """``+86 138-1234-8000`` and ``0086 13812348000`` both become ``13812348000``.

    Landlines keep their area code (``0755-8888 6666`` becomes ``075588886666``); other international
    numbers keep their ``+``.
    """
    phone = _SEPARATORS.sub("", raw)
    for prefix in ("+86", "0086"):
        if phone.startswith(prefix):
            national = phone[len(prefix) :]
            mobile_or_trunk = _MAINLAND_MOBILE.fullmatch(national) or national.startswith("0")
            phone = national if mobile_or_trunk else "0" + national
            break
    else:
        if phone.startswith("86") and _MAINLAND_MOBILE.fullmatch(phone[2:]):
            phone = phone[2:]
    digits = phone[1:] if phone.startswith("+") else phone
    if not digits.isdigit() or not 5 <= len(digits) <= 20:
        raise ValueError("a phone number is 5 to 20 digits, optionally with +, spaces or dashes")
    return phone


def mask_phone(phone: str) -> str:
    """``13812348000`` → ``138****8000``: the first three and last four digits stay."""
    if len(phone) <= 7:
        return "*" * (len(phone) - 4) + phone[-4:] if len(phone) > 4 else "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_name(name: str) -> str:
    """``张三`` → ``张*``: the first character stays."""
    return name[:1] + "*" * (len(name) - 1)


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"
