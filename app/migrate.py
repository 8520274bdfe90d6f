"""Schema migrations (alembic), callable from the CLI, the app and the tests.

alembic is imported when a function here is first called, not with the module: every ``tousu`` command imports
this one, and most of them (``worker``, ``keys``, ``calendar``...) never migrate (alembic's import is some 0.1 s of
CPU at each start).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.config import ROOT, Settings
from app.db import connect_args

if TYPE_CHECKING:
    from alembic.config import Config


def alembic_config(settings: Settings) -> Config:
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = settings.database_url
    config.attributes["connect_args"] = connect_args(settings)
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(settings), revision)


def head(settings: Settings) -> str:
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config(settings)).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"expected one migration head, found {heads}")
    return heads[0]
