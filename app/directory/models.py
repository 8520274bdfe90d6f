"""Stores and departments as rows: a unit's id as complaints, keys and clocks name it, its name and region."""

from __future__ import annotations

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class Store(Base):
    """A store, by the id used everywhere (``SZ-FT-012``); its name and region may be unknown (NULL)."""

    __tablename__ = "stores"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Department(Base):
    """A department, by its name as complaints are dispatched to it (``品管部``)."""

    __tablename__ = "departments"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
