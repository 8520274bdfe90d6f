"""complaint numbers come from a sequence per local day on PostgreSQL

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 08:00:00

Every registration bumped one row of complaint_number_counters, so concurrent registrations queued on that row's
lock (and each one that waited retried its upsert): under load the row cost PostgreSQL more CPU than the rest of a
registration. A sequence hands out numbers without a lock. tousu_complaint_number(day) draws the day's next number
from the sequence complaint_numbers_YYYYMMDD, making it on the day's first registration; a day that counters had
already numbered (before this migration) continues from its counter. SQLite, which has one writer anyway, keeps
the counters.

Downgrade writes each sequence's last number back into the counters and drops the sequences.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEXT_NUMBER = """
CREATE FUNCTION tousu_complaint_number(number_day date) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    name text := 'complaint_numbers_' || to_char(number_day, 'YYYYMMDD');
    numbers regclass := to_regclass(name);
    first bigint;
BEGIN
    IF numbers IS NULL THEN
        SELECT coalesce(max(last), 0) + 1 INTO first FROM complaint_number_counters WHERE day = number_day;
        BEGIN
            EXECUTE format('CREATE SEQUENCE %I START WITH %s', name, first);
        EXCEPTION WHEN duplicate_table OR unique_violation THEN
            NULL;  -- another registration made it at the same moment
        END;
        numbers := to_regclass(name);
    END IF;
    RETURN nextval(numbers);
END
$$
"""

BACK_TO_COUNTERS = """
DO $$
DECLARE
    numbers record;
    drawn bigint;
BEGIN
    FOR numbers IN SELECT relname FROM pg_class WHERE relkind = 'S' AND relname ~ '^complaint_numbers_[0-9]{8}$' LOOP
        EXECUTE format('SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM %I', numbers.relname)
            INTO drawn;
        INSERT INTO complaint_number_counters (day, last)
        VALUES (to_date(substring(numbers.relname FROM 19), 'YYYYMMDD'), drawn)
        ON CONFLICT (day) DO UPDATE SET last = greatest(complaint_number_counters.last, excluded.last);
        EXECUTE format('DROP SEQUENCE %I', numbers.relname);
    END LOOP;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(NEXT_NUMBER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(BACK_TO_COUNTERS)
        op.execute("DROP FUNCTION tousu_complaint_number(date)")
