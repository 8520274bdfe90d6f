"""Who is calling: the API key's role and binding, and the human actor it acts for."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from app.auth.models import Role
from app.vocabulary import ResponsibleUnit, UnitKind

HANDLING_ROLES = frozenset({Role.handler, Role.supervisor, Role.manager, Role.admin})
APPROVING_ROLES = frozenset({Role.supervisor, Role.manager, Role.admin})
NOTE_ROLES = HANDLING_ROLES | {Role.intake}
REGISTER_ROLES = HANDLING_ROLES | {Role.intake}


@dataclass(frozen=True)
class Principal:
    key_id: uuid.UUID
    key_name: str
    role: Role
    store_id: str | None
    authority: Decimal | None  # yuan this key may grant or approve; None is no limit
    department: str | None = None

    @property
    def is_store(self) -> bool:
        return self.role is Role.store

    @property
    def unit(self) -> ResponsibleUnit | None:
        """The responsible unit a store or department key is bound to; None for a company-wide key."""
        if self.role is Role.store and self.store_id is not None:
            return ResponsibleUnit(UnitKind.store, self.store_id)
        if self.role is Role.department and self.department is not None:
            return ResponsibleUnit(UnitKind.department, self.department)
        return None

    def covers(self, amount: Decimal) -> bool:
        return self.authority is None or amount <= self.authority


@dataclass(frozen=True)
class Actor:
    """A write: the calling key and the person on whose behalf it acts (``X-Actor``)."""

    principal: Principal
    name: str
