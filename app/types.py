"""Field types shared by the API schemas."""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, Field

# NUL and other C0 controls (tab and line breaks aside) are never text a person typed; PostgreSQL also refuses NUL
# in text, so it must be refused before it reaches the database.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _printable(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("control characters (such as NUL) are not allowed")
    return value


def Text(max_length: int, min_length: int = 1) -> type[str]:
    return Annotated[  # type: ignore[return-value]
        str, Field(min_length=min_length, max_length=max_length), AfterValidator(_printable)
    ]


CENT = Decimal("0.01")

Yuan = Annotated[
    Decimal,
    Field(ge=0, le=Decimal("9999999999.99"), decimal_places=2, examples=["300.00"]),
    AfterValidator(lambda amount: amount.quantize(CENT)),
]


def local_times(payload: dict[str, Any], tz: tzinfo) -> dict[str, Any]:
    """The payload with every timestamp (an ISO string with an offset) shown in local time, as all responses are."""
    shown = {}
    for key, value in payload.items():
        if isinstance(value, str) and len(value) >= 20 and value[4] == "-" and "T" in value:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                moment = None
            if moment is not None and moment.tzinfo is not None:
                value = moment.astimezone(tz).isoformat()
        shown[key] = value
    return shown
