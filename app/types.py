"""Field types shared by the API schemas.

Each refuses what pydantic's lax mode would otherwise read into it: a number for a date-time, a date or a boolean
(``0`` is not 1970-01-01 and not false), an amount in full-width digits or with an exponent, and a date-time so
far out that converting it to UTC overflows.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
    JsonValue,
    PlainSerializer,
    StrictBool,
    WithJsonSchema,
)

# NUL and the other C0 and C1 controls (tab and line breaks aside) are never text a person typed, and some are read
# as line breaks (NEL, form feed) by whatever shows the text; PostgreSQL also refuses NUL in text, so they are
# refused before they reach the database.
_CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_CONTROL = re.compile(f"[{_CONTROLS}]")
PRINTABLE = f"^[^{_CONTROLS}]*$"


def _printable(value: Any) -> Any:
    # Before any stripping of surrounding whitespace (str_strip_whitespace), which would take a form feed or a
    # vertical tab at either end away unseen.
    if isinstance(value, str) and _CONTROL.search(value):
        raise ValueError("control characters (such as NUL) are not allowed")
    return value


def text_rules(max_length: int, min_length: int = 1, pattern: str | None = None) -> tuple[Any, ...]:
    """What makes a ``str`` a text of ``min_length`` to ``max_length`` characters without control characters, matching
    ``pattern``: written ``Annotated[str, *text_rules(100)]``.

    The pattern goes here, not in a Field around the result: there it would be checked but missing from the
    OpenAPI document. Without one, the document shows the control characters refused as a pattern.
    """
    shown: dict[str, JsonValue] | None = None if pattern else {"pattern": PRINTABLE}
    return (
        Field(min_length=min_length, max_length=max_length, pattern=pattern, json_schema_extra=shown),
        BeforeValidator(_printable),
    )


def Text(max_length: int, min_length: int = 1, pattern: str | None = None) -> type[str]:
    """``Annotated[str, *text_rules(...)]`` built at run time, for an annotation written ``Text(100)``.

    A type checker reads no call in an annotation: new code writes the ``Annotated`` form.
    """
    # Annotated[...] is a special form, not a class: no type[str] in the checker's eyes, though it acts as one here.
    return Annotated[str, *text_rules(max_length, min_length, pattern)]  # type: ignore[return-value]


# ISO 8601 (RFC 3339) in ASCII digits (`[0-9]`: in a str pattern `\d` is any Unicode digit). The parsing itself
# is pydantic's, which also names a missing offset.
_MOMENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?"
)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso(pattern: re.Pattern[str], kind: type, example: str) -> Any:
    def text_only(value: Any) -> Any:
        # An instance comes from code (a service building a schema), never from a request.
        if isinstance(value, kind) or (isinstance(value, str) and pattern.fullmatch(value)):
            return value
        raise ValueError(f"must be an ISO 8601 string such as {example}")

    return BeforeValidator(text_only)


def moment_rules(earliest: datetime, latest: datetime) -> tuple[Any, ...]:
    """What makes an ``AwareDatetime`` an instant from ``earliest`` to ``latest``, given as an ISO 8601 string with
    its offset: written ``Annotated[AwareDatetime, *moment_rules(earliest, latest)]``."""

    def within(value: datetime) -> datetime:
        if not earliest <= value <= latest:
            raise ValueError(f"must be from {earliest.isoformat()} to {latest.isoformat()}")
        return value

    return _iso(_MOMENT, datetime, "2026-11-22T10:15:00+08:00"), AfterValidator(within)


# Any instant a request can sensibly name, and none whose conversion to UTC or local time overflows.
FIRST_MOMENT = datetime(1970, 1, 1, tzinfo=UTC)
LAST_MOMENT = datetime(2100, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
SearchMoment = Annotated[AwareDatetime, *moment_rules(FIRST_MOMENT, LAST_MOMENT)]


def date_rules(first: date, last: date) -> tuple[Any, ...]:
    """What makes a ``date`` a day from ``first`` to ``last``, given as ``YYYY-MM-DD``: written
    ``Annotated[date, *date_rules(first, last)]``."""

    def within(value: date) -> date:
        if not first <= value <= last:
            raise ValueError(f"must be from {first} to {last}")
        return value

    return _iso(_DATE, date, "2026-10-01"), AfterValidator(within)


# In a JSON body, a boolean is `true` or `false`: not 0, 1 or "true".
Bool = StrictBool


def _flag(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError("must be true or false")


# In a query string, a boolean is `true` or `false` (any case): not 1, 0, yes, no, on or off.
QueryFlag = Annotated[bool, BeforeValidator(_flag)]


CENT = Decimal("0.01")
LARGEST_AMOUNT = Decimal("9999999999.99")
_AMOUNT = re.compile(r"[0-9]{1,10}(\.[0-9]{1,2})?")


def _plain_amount(value: Any) -> Any:
    # An amount is a string, as the schema says, so that no client (generated or not) holds money in a float. Decimal()
    # reads full-width digits, underscores, exponents, signs, surrounding blanks, NaN and -0: none of that is one.
    if isinstance(value, str) and _AMOUNT.fullmatch(value):
        return value
    if isinstance(value, Decimal) and not value.is_signed():  # a model built in Python, not from JSON
        return value
    raise ValueError('an amount is a string of digits with at most 2 decimals, such as "300.50" (not a JSON number)')


Yuan = Annotated[
    Decimal,
    BeforeValidator(_plain_amount),
    Field(ge=0, le=LARGEST_AMOUNT, decimal_places=2),
    AfterValidator(lambda amount: amount.quantize(CENT)),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": f"^{_AMOUNT.pattern}$",
            "description": 'Yuan, at most 2 decimals, as a decimal string such as "300.50"; a JSON number is refused.',
            "examples": ["300.00"],
        }
    ),
]


def _cents(amount: Decimal) -> str:
    return f"{amount.quantize(CENT)}"


# An amount in a response: a decimal string with 2 decimals ("1000.50"), never a JSON number a client would read
# into a float. The same schema in requests and responses, so that a model read back (a history snapshot) keeps one
# name in the document.
Money = Annotated[
    Decimal,
    PlainSerializer(_cents, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]+\.[0-9]{2}$", "examples": ["1000.50"]}),
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


Shown = TypeVar("Shown", bound=BaseModel)


def in_local_time(model: Shown, tz: tzinfo) -> Shown:
    """The model with every aware date-time in it (in nested models and lists too) in local time, as all responses
    show them. A dict is left as it is: a stored payload is shown as it was sent."""

    def local(value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(tz)
        if isinstance(value, BaseModel):
            return in_local_time(value, tz)
        if isinstance(value, list):
            return [local(item) for item in value]
        return value

    return model.model_copy(update={name: local(getattr(model, name)) for name in type(model).model_fields})
