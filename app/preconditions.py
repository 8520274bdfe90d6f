"""Optimistic concurrency: the complaint's version is its ``ETag``; a write sent with ``If-Match`` applies only to
that version (RFC 9110, strong comparison)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.errors import InvalidInput, PreconditionFailed

_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e]*)"\s*')


def etag(version: int) -> str:
    return f'"{version}"'


@dataclass(frozen=True)
class IfMatch:
    """The versions a client's ``If-Match`` accepts; ``any_version`` for ``*``."""

    versions: frozenset[str]
    any_version: bool = False

    @classmethod
    def parse(cls, header: str) -> IfMatch:
        if header.strip() == "*":
            return cls(frozenset(), any_version=True)
        versions: set[str] = set()
        for part in header.split(","):
            found = _TAG.fullmatch(part)
            if found is None:
                raise InvalidInput('If-Match must be entity tags such as "3" (from ETag) or *', field="If-Match")
            if found.group(1) is None:  # a weak tag never matches in If-Match
                versions.add(found.group(2))
        return cls(frozenset(versions))

    def check(self, version: int) -> None:
        if not self.any_version and str(version) not in self.versions:
            raise PreconditionFailed(
                f"the complaint is at version {version}; read it again and decide on the current state",
                current_version=version,
                etag=etag(version),
            )
