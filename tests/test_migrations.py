"""The schema is built only by the migrations: up, down to nothing, and up again, on both databases."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import create_engine, inspect, text

from app import migrate
from app.config import Settings
from app.db import Base


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrations_go_up_down_and_up_again(empty_database: str) -> None:
    settings = Settings(database_url=empty_database)
    model_tables = set(Base.metadata.tables)

    migrate.upgrade(settings)
    assert tables(empty_database) == model_tables | {"alembic_version"}

    migrate.downgrade(settings, "base")
    assert tables(empty_database) == {"alembic_version"}

    migrate.upgrade(settings)
    assert tables(empty_database) == model_tables | {"alembic_version"}


# SQLite does not reflect an expression index (the order number's lower-cased value): PostgreSQL compares it.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index:sqlalchemy.exc.SAWarning")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index:UserWarning")
def test_migrations_match_the_models(empty_database: str) -> None:
    """Autogenerate finds nothing to add: the models and the migrations describe the same schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    migrate.upgrade(Settings(database_url=empty_database))
    engine = create_engine(empty_database)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


@pytest.mark.postgresql_only
def test_the_days_numbers_survive_a_downgrade_and_an_upgrade(empty_database: str) -> None:
    """0007 draws numbers from a sequence per day; down to 0006 they go back into the counters, and up again the
    sequences continue from them."""
    settings = Settings(database_url=empty_database)
    migrate.upgrade(settings)
    engine = create_engine(empty_database)
    draw = text("SELECT tousu_complaint_number(DATE '2026-12-02')")
    try:
        with engine.begin() as connection:
            assert [connection.scalar(draw) for _ in range(3)] == [1, 2, 3]
        migrate.downgrade(settings, "0006")
        with engine.begin() as connection:
            assert connection.execute(text("SELECT day, last FROM complaint_number_counters")).all() == [
                (date(2026, 12, 2), 3)
            ]
            assert connection.scalar(text("SELECT to_regclass('complaint_numbers_20261202')")) is None
        migrate.upgrade(settings)
        with engine.begin() as connection:
            assert connection.scalar(draw) == 4
    finally:
        engine.dispose()
