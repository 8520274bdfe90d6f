"""Complainants' contact details: phone normalisation, the masks a responsible unit sees, and their redaction from
free text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_SEPARATORS = re.compile(r"[\s\-()（）]")
_MAINLAND_MOBILE = re.compile(r"1[3-9]\d{9}")
# In free text: a mainland mobile however it is spaced, with or without its country code (+86, 0086, 86), and any
# e-mail address.
_MOBILE_IN_TEXT = re.compile(r"(?<![\d+])(?:(?:\+|00)?86[\s\-]?)?1[3-9]\d(?:[\s\-]?\d){8}(?!\d)")
_EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")


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
    """A mainland mobile keeps its first three and last four digits (``138****8000``); any other number only its
    last two (``******66``), since a landline's area code and exchange narrow it down to a few hundred lines."""
    if _MAINLAND_MOBILE.fullmatch(phone):
        return phone[:3] + "****" + phone[-4:]
    plus = "+" if phone.startswith("+") else ""
    digits = phone[len(plus) :]
    return plus + "*" * (len(digits) - 2) + digits[-2:]


def mask_name(name: str) -> str:
    """``张三`` → ``张*``, ``欧阳娜娜`` → ``欧***``; a one-character name is all hidden (``*``)."""
    if len(name) <= 1:
        return "*" * len(name)
    return name[:1] + "*" * (len(name) - 1)


def mask_email(email: str) -> str:
    """``zhangsan@example.com`` → ``z***@example.com``."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


# The province (or autonomous region, or SAR) and the city (or prefecture) an address starts with.
_REGION = re.compile(r"^\s*((?:[^\s\d]{1,10}?(?:省|自治区|特别行政区))?(?:[^\s\d]{1,10}?(?:市|自治州|地区|盟))?)")
ADDRESS_MASK = "***"
_SHORTEST_REST = 4  # a part of the address this short is not looked for in free text (it would blank common words)


def _region_and_rest(address: str) -> tuple[str, str]:
    region = _REGION.match(address)
    kept = region.group(1) if region else ""
    return kept, address[len(region.group(0)) if region else 0 :].strip()


def mask_address(address: str) -> str:
    """``广东省深圳市福田区福华路88号`` → ``广东省深圳市***``; ``北京市朝阳区…`` → ``北京市***``: the province and the
    city only, the rest hidden (its length too). An address with neither (``Room 5, 8 Queen's Road``) is all hidden."""
    return _region_and_rest(address)[0] + ADDRESS_MASK


@dataclass(frozen=True)
class Contact:
    """Whose details a text must not show a responsible unit: the complainant's."""

    name: str
    phone: str
    email: str | None = None
    address: str | None = None
    former: tuple[Contact, ...] = ()  # the contact as it was before corrections: older texts may quote it

    @classmethod
    def of(cls, name: str, phone: str, email: str | None, address: str | None, former: Any) -> Contact:
        """The contact, with the former ones a complaint keeps (``former_contacts``)."""
        before = tuple(cls(d["name"], d["phone"], d.get("email"), d.get("address")) for d in former or ())
        return cls(name, phone, email, address, before)

    def redact(self, text: str) -> str:
        """``text`` with the complainant's name, phone and e-mail, and any other mobile number or e-mail address,
        replaced by their masks: an agent's notes and the description often quote them. The address is masked where
        it is quoted whole, and so is the part of it after the city (the street and the door) where that is quoted
        alone."""
        for earlier in self.former:
            text = earlier.redact(text)
        if self.address:
            rest = _region_and_rest(self.address)[1]
            text = text.replace(self.address, mask_address(self.address))
            if len(rest) >= _SHORTEST_REST:
                text = text.replace(rest, ADDRESS_MASK)
        if len(self.name) >= 2:  # a one-character name would blank that character everywhere in the text
            text = text.replace(self.name, mask_name(self.name))
        if self.email:
            text = re.sub(re.escape(self.email), mask_email(self.email), text, flags=re.IGNORECASE)
        spelled = r"[\s\-]?".join(re.escape(digit) for digit in self.phone.lstrip("+"))
        text = re.sub(rf"(?<!\d){spelled}(?!\d)", mask_phone(self.phone), text)
        text = _MOBILE_IN_TEXT.sub(lambda found: mask_phone(normalize_phone(found.group())), text)
        return _EMAIL_IN_TEXT.sub(lambda found: mask_email(found.group()), text)
