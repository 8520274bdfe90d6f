"""API keys: issue, look up, list, revoke. Secrets are shown once and kept only as SHA-256."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import ApiKey, Role
from app.auth.principal import Principal
from app.config import Settings
from app.db import utcnow
from app.errors import InvalidInput, NotFound

KEY_PREFIX = "tsk_"
# What create_key issues: the prefix and secrets.token_urlsafe(32), 32 bytes in 43 characters of base64url.
KEY_FORMAT = re.compile(r"tsk_[A-Za-z0-9_-]{43}")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def authority_of(role: Role, settings: Settings) -> Decimal | None:
    ladder: dict[Role, Decimal | None] = {
        Role.handler: settings.authority_handler,
        Role.supervisor: settings.authority_supervisor,
        Role.manager: settings.authority_manager,
        Role.admin: settings.authority_admin,
    }
    return ladder.get(role, Decimal(0))


def create_key(
    session: Session,
    *,
    name: str,
    role: Role,
    store_id: str | None,
    created_by: str | None,
    department: str | None = None,
) -> tuple[ApiKey, str]:
    """Issue a key; returns the row and the secret, which is never available again. A store key is bound to one
    store, a department key to one department (its name as complaints are dispatched to it)."""
    if (role is Role.store) != (store_id is not None):
        raise InvalidInput("a store key needs store_id, and only a store key may have one", field="store_id")
    if (role is Role.department) != (department is not None):
        raise InvalidInput(
            "a department key needs department, and only a department key may have one", field="department"
        )
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        role=role,
        store_id=store_id,
        department=department,
        prefix=secret[:12],
        secret_hash=_hash(secret),
        created_by=created_by,
    )
    session.add(key)
    session.flush()
    return key, secret


def well_formed(secret: str) -> bool:
    """Whether ``secret`` could be a key at all; one that cannot is refused without a lookup."""
    return KEY_FORMAT.fullmatch(secret) is not None


def principal_for(session: Session, secret: str, settings: Settings) -> Principal | None:
    key = session.scalar(select(ApiKey).where(ApiKey.secret_hash == _hash(secret), ApiKey.revoked_at.is_(None)))
    return None if key is None else _principal(key, settings)


def confirm(session: Session, principal: Principal, settings: Settings, *, lock: bool) -> Principal | None:
    """The calling key read again in the caller's transaction: the principal it has now, None if it is revoked.

    For the keys' own management, which never trusts a cache. With ``lock`` (PostgreSQL), the key's row is held
    until the transaction ends, so a revocation of it waits for this transaction or this one sees the revocation:
    no key is issued by a key after that key's revocation has committed.
    """
    query = select(ApiKey).where(ApiKey.id == principal.key_id, ApiKey.revoked_at.is_(None))
    if lock:
        query = query.with_for_update(read=True)
    key = session.scalar(query)
    return None if key is None else _principal(key, settings)


def _principal(key: ApiKey, settings: Settings) -> Principal:
    return Principal(
        key_id=key.id,
        key_name=key.name,
        role=key.role,
        store_id=key.store_id,
        department=key.department,
        authority=authority_of(key.role, settings),
    )


def list_keys(session: Session, *, include_revoked: bool) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return list(session.scalars(query))


def revoke_key(session: Session, key_id: uuid.UUID) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key {key_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


def has_admin_key(session: Session) -> bool:
    query = select(ApiKey.id).where(ApiKey.role == Role.admin, ApiKey.revoked_at.is_(None)).limit(1)
    return session.scalar(query) is not None


class KeyCache:
    """Good keys seen in the last ``seconds``, so that a request does not spend a transaction on its key.

    Only keys that were found are kept (an attacker's guesses take no memory). The cache is used only while its
    watcher says that every revocation so far has reached it (app/auth/revocations.py: a LISTEN connection on
    PostgreSQL, a marker read per request on SQLite); until a watcher is set, every key is looked up. A revocation
    heard of moves the epoch on, so a lookup that began before it cannot put back the key it has just dropped.
    """

    def __init__(self, seconds: float, size: int = 10_000) -> None:
        self.seconds = seconds
        self.size = size
        self.epoch = 0
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()
        self._heard_everything: Callable[[], bool] = lambda: False

    def watch(self, heard_everything: Callable[[], bool]) -> None:
        self._heard_everything = heard_everything

    def trusted(self) -> bool:
        """Whether the cache may vouch for a key now (for SQLite this reads the marker)."""
        return self.seconds > 0 and self._heard_everything()

    def get(self, secret: str) -> Principal | None:
        if not self.trusted():
            return None
        entry = self._entries.get(_hash(secret))
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, secret: str, principal: Principal, epoch: int) -> None:
        """Keep a key looked up since ``epoch`` (read before the lookup began)."""
        if self.seconds <= 0:
            return
        with self._lock:
            if epoch != self.epoch:
                return
            if len(self._entries) >= self.size:
                self._entries.clear()
            self._entries[_hash(secret)] = (principal, time.monotonic() + self.seconds)

    def forget(self, key_id: uuid.UUID) -> None:
        with self._lock:
            self.epoch += 1
            self._entries = {h: e for h, e in self._entries.items() if e[0].key_id != key_id}

    def clear(self) -> None:
        with self._lock:
            self.epoch += 1
            self._entries = {}
