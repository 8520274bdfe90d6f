"""The sweeper: warnings and breaches fire once, from an indexed query, shared by several workers, and a worker
killed mid-sweep loses nothing (issue 4, "The sweeper"; domain: "The clocks").

Time is controlled: ``sweep(db, now)`` is given the moment, and the complaints are registered under time-machine
or with a ``received_at`` in the past. Small cases go through the API; volume is made in one transaction: one
complaint registered through the service layer and copies of it and of its written-reply clock, with deadlines
computed by ``clocks.deadline``.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import event, func, insert, inspect, select, text
from sqlalchemy.engine import make_url

from app.auth import service as keys
from app.auth.models import Role
from app.auth.principal import Actor
from app.complaints import registration
from app.complaints.models import Complaint, ComplaintEvent
from app.complaints.schemas import ComplaintCreate
from app.complaints.sweeper import Sweeper, Swept, sweep, sweep_batch
from app.config import Settings
from app.db import Database, utcnow, uuid7
from app.sla import clocks
from app.sla.calendar import Calendar
from app.sla.models import Clock, ClockEvent, ClockState
from app.vocabulary import ClockKind
from tests.conftest import Caller, another_customer, complaint_body, investigate_in

TOUSU = Path(sys.executable).with_name("tousu")
INDEX = "ix_sla_clocks_next_check_at"
FEEDBACK = {"cause": "店员未按退货流程操作", "responsible_person": "李四", "responsibility": "staff_fault"}
# Monday 2 March 2026, 10:00 in Shanghai: an ordinary working week, far from any holiday.
MONDAY = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
# Nothing listens on port 1 of the loopback: connections are refused at once.
REFUSED_URL = "postgresql+psycopg://tousu@127.0.0.1:1/tousu"
SLA_MOVES = ("sla.warning", "sla.breached", "complaint.escalated")


# --- helpers -------------------------------------------------------------------------------------------------


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    """A database handle of the test's own (the API's app is not needed for volume)."""
    handle = Database.from_settings(settings)
    yield handle
    handle.dispose()


BULK_CUSTOMERS = itertools.count()


def bulk_clocks(db: Database, settings: Settings, received: list[datetime]) -> list[uuid.UUID]:
    """One complaint (with its running written-reply clock) per moment in ``received``, in one transaction.

    The first is registered through the service layer; the others are copies of it received at their own
    moment, with their clock's deadline computed as the service computes it. Returns the clock ids in order.
    """
    with db.writers.begin() as session:
        _, secret = keys.create_key(session, name="bulk", role=Role.handler, store_id=None, created_by="tests")
        principal = keys.principal_for(session, secret, settings)
        assert principal is not None
        # A customer of each call's own: the copies share the template's phone, and a later call's template is not
        # to be their repeat.
        customer = another_customer(next(BULK_CUSTOMERS))
        body = ComplaintCreate.model_validate(
            {**complaint_body(complainant=customer), "received_at": received[0].isoformat()}
        )
        template = registration.write(session.connection(), body, Actor(principal, "bulk-loader"), settings).complaint
        (template_clock,) = session.scalars(select(Clock).where(Clock.complaint_id == template.id)).all()
        complaint_row = {a.key: getattr(template, a.key) for a in inspect(Complaint).column_attrs}
        clock_row = {a.key: getattr(template_clock, a.key) for a in inspect(Clock).column_attrs}
        target = clocks.policy(settings).target(template.priority, ClockKind.written_reply)
        calendar = Calendar(session)
        complaint_rows, clock_rows, event_rows = [], [], []
        ids = [template_clock.id]
        for i, at in enumerate(received[1:], start=1):
            complaint_id, clock_id = uuid7(), uuid7()
            due = clocks.deadline(at, target, calendar, settings)
            complaint_rows.append(
                {**complaint_row, "id": complaint_id, "number": f"{template.number}-{i:06d}", "received_at": at}
            )
            clock_rows.append(
                {
                    **clock_row,
                    "id": clock_id,
                    "complaint_id": complaint_id,
                    "started_at": at,
                    "warn_at": due.warn_at,
                    "due_at": due.due_at,
                    "next_check_at": due.warn_at,
                }
            )
            event_rows.append({"clock_id": clock_id, "kind": "started", "at": at, "detail": {"why": "received"}})
            ids.append(clock_id)
        if complaint_rows:
            session.execute(insert(Complaint), complaint_rows)
            session.execute(insert(Clock), clock_rows)
            session.execute(insert(ClockEvent), event_rows)
    return ids


def complaint_events(db: Database, move: str) -> Counter[str]:
    """How many ``move`` events each clock (by id, from the payload) has in its complaint's history."""
    with db.readers() as session:
        payloads = session.scalars(select(ComplaintEvent.payload).where(ComplaintEvent.move == move)).all()
    return Counter(payload["clock_id"] for payload in payloads)


def clock_events(db: Database, kind: str) -> Counter[str]:
    with db.readers() as session:
        ids = session.scalars(select(ClockEvent.clock_id).where(ClockEvent.kind == kind)).all()
    return Counter(str(clock_id) for clock_id in ids)


def count_clock_events(db: Database, kind: str) -> int:
    with db.readers() as session:
        return session.scalar(select(func.count()).select_from(ClockEvent).where(ClockEvent.kind == kind)) or 0


def still_due(db: Database, now: datetime) -> int:
    with db.readers() as session:
        return session.scalar(select(func.count()).select_from(Clock).where(Clock.next_check_at <= now)) or 0


def once_each(ids: list[uuid.UUID]) -> Counter[str]:
    return Counter(str(clock_id) for clock_id in ids)


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def clocks_of(caller: Caller, complaint_id: str) -> dict[str, dict[str, Any]]:
    """The complaint's clocks as the API explains them, by kind (one run of each here)."""
    response = caller.get(f"/v1/complaints/{complaint_id}/clocks")
    assert response.status_code == 200, response.text
    return {clock["kind"]: clock for clock in response.json()}


def by_kind(caller: Caller, complaint_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    kinds = clocks_of(caller, complaint_id)
    assert sorted(kinds) == ["store_feedback", "written_reply"]
    return kinds["store_feedback"], kinds["written_reply"]


def sla_history(caller: Caller, complaint_id: str) -> list[dict[str, Any]]:
    response = caller.get(f"/v1/complaints/{complaint_id}/events")
    assert response.status_code == 200, response.text
    return [entry for entry in response.json() if entry["move"] in SLA_MOVES]


def moves(history: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(entry["move"], entry["payload"]["clock"]) for entry in history]


def dispatched(handler: Caller) -> dict[str, Any]:
    """Registered and dispatched to a store on Monday 10:00 (Shanghai): a written-reply and a store clock."""
    with time_machine.travel(MONDAY, tick=False):
        complaint = handler.register()
        handler.move(complaint["id"], "investigate", {"store_id": "SZ-FT-012"})
    return complaint


# --- 1. warnings and breaches, once each ----------------------------------------------------------------------


def test_a_clock_warns_then_breaches_and_fires_nothing_more(handler: Caller, db: Database) -> None:
    complaint = dispatched(handler)
    store, reply = by_kind(handler, complaint["id"])
    store_warn, store_due = instant(store["warn_at"]), instant(store["due_at"])
    # Monday 10:00 → store feedback warns Tuesday 18:00, due Wednesday 18:00; written reply warns Saturday 10:00.
    assert store_warn < store_due < instant(reply["warn_at"]) < instant(reply["due_at"])

    assert sweep(db, store_warn - timedelta(seconds=1)) == Swept(0, 0)
    assert sla_history(handler, complaint["id"]) == []

    assert sweep(db, store_warn) == Swept(warned=1, breached=0)
    store, reply = by_kind(handler, complaint["id"])
    assert store["state"] == "running" and store["warning"] is True
    assert [entry["kind"] for entry in store["history"]] == ["started", "warned"]
    assert instant(store["history"][1]["at"]) == store_warn
    assert [entry["kind"] for entry in reply["history"]] == ["started"]
    history = sla_history(handler, complaint["id"])
    # The ladder's default: a feedback warning reaches the store manager.
    assert moves(history) == [("sla.warning", "store_feedback"), ("complaint.escalated", "store_feedback")]
    warning = history[0]
    assert warning["actor"] == "tousu" and warning["api_key_id"] is None
    assert warning["payload"]["clock_id"] == store["id"]
    assert warning["payload"]["store_id"] == "SZ-FT-012"
    assert instant(warning["payload"]["due_at"]) == store_due
    assert warning["from_state"] == warning["to_state"] == "investigating"
    with db.readers() as session:
        clock = session.get(Clock, uuid.UUID(store["id"]))
        assert clock is not None
        assert clock.warned_at == store_warn and clock.next_check_at == store_due

    assert sweep(db, store_warn + timedelta(hours=1)) == Swept(0, 0)  # already warned: nothing again
    assert len(sla_history(handler, complaint["id"])) == 2

    assert sweep(db, store_due) == Swept(warned=0, breached=1)
    store, reply = by_kind(handler, complaint["id"])
    assert store["state"] == "breached" and store["warning"] is False
    assert [entry["kind"] for entry in store["history"]] == ["started", "warned", "breached"]
    history = sla_history(handler, complaint["id"])
    assert moves(history) == [
        ("sla.warning", "store_feedback"),
        ("complaint.escalated", "store_feedback"),
        ("sla.breached", "store_feedback"),
        ("complaint.escalated", "store_feedback"),
    ]
    assert history[3]["payload"]["reason"] == "store_feedback breached: escalated to 区域经理"
    with db.readers() as session:
        clock = session.get(Clock, uuid.UUID(store["id"]))
        assert clock is not None
        assert clock.state is ClockState.breached and clock.breached_at == store_due and clock.next_check_at is None

    # Sweeping again, even much later, fires nothing more for the store clock.
    assert sweep(db, store_due) == Swept(0, 0)
    assert sweep(db, store_due + timedelta(hours=12)) == Swept(0, 0)
    assert len(sla_history(handler, complaint["id"])) == 4


def test_a_clock_stopped_before_its_warning_never_fires(handler: Caller, db: Database) -> None:
    complaint = dispatched(handler)
    with time_machine.travel(MONDAY + timedelta(hours=3), tick=False):  # the store answers before its warning
        handler.move(complaint["id"], "store-feedback", FEEDBACK)
    store, reply = by_kind(handler, complaint["id"])
    assert store["state"] == "met"
    between = instant(store["due_at"]) + timedelta(days=1)  # past the store clock's deadline, before the reply's
    assert between < instant(reply["warn_at"])

    assert sweep(db, between) == Swept(0, 0)
    assert sweep(db, between + timedelta(days=1)) == Swept(0, 0)
    store, _ = by_kind(handler, complaint["id"])
    assert [entry["kind"] for entry in store["history"]] == ["started", "met"]
    assert sla_history(handler, complaint["id"]) == []


def test_a_rejected_complaint_s_written_reply_clock_never_fires(handler: Caller, db: Database) -> None:
    with time_machine.travel(MONDAY, tick=False):
        complaint = handler.register()
        handler.move(
            complaint["id"], "reject", {"reason": "outside_contract", "explanation": "经核实，该要求超出合同约定范围。"}
        )
    (reply,) = clocks_of(handler, complaint["id"]).values()
    assert reply["state"] == "met"
    assert sweep(db, instant(reply["due_at"]) + timedelta(days=30)) == Swept(0, 0)
    assert sla_history(handler, complaint["id"]) == []


def test_a_clock_whose_warning_and_deadline_both_passed_goes_straight_to_breached(
    handler: Caller, db: Database
) -> None:
    now = utcnow()
    complaint = handler.register(received_at=(now - timedelta(days=8)).isoformat())  # 7 days, warning after 5
    (reply,) = clocks_of(handler, complaint["id"]).values()
    assert instant(reply["warn_at"]) < instant(reply["due_at"]) < now

    assert sweep(db, now) == Swept(warned=0, breached=1)
    (reply,) = clocks_of(handler, complaint["id"]).values()
    assert reply["state"] == "breached"
    assert [entry["kind"] for entry in reply["history"]] == ["started", "breached"]
    assert moves(sla_history(handler, complaint["id"])) == [
        ("sla.breached", "written_reply"),
        ("complaint.escalated", "written_reply"),
    ]
    with db.readers() as session:
        clock = session.get(Clock, uuid.UUID(reply["id"]))
        assert clock is not None
        assert clock.warned_at is None and clock.next_check_at is None
        # When it breached: the sweep records the moment of the sweep, clocks.stop() the deadline; either will do.
        assert clock.breached_at in (now, clock.due_at)
    assert sweep(db, now + timedelta(days=1)) == Swept(0, 0)
    assert len(sla_history(handler, complaint["id"])) == 2


# --- 2. the sweep reads due clocks only -----------------------------------------------------------------------


def test_the_sweep_fires_exactly_the_due_clocks_through_the_index(
    database: Database, settings: Settings, database_url: str
) -> None:
    start = utcnow() - timedelta(days=30)
    ids = bulk_clocks(database, settings, [start + timedelta(seconds=i) for i in range(2_000)])
    now = start + timedelta(days=5, seconds=49)  # the written reply warns after 5 days: clocks 0..49 are due
    assert still_due(database, now) == 50

    # The sweep's own query, captured from sweep_batch in a transaction that is rolled back.
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if "FROM sla_clocks" in statement and "next_check_at <=" in statement:
            captured.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", capture)
    try:
        with database.writers() as session:
            assert sweep_batch(session, now, settings) == Swept(warned=50, breached=0)
            session.rollback()
    finally:
        event.remove(database.engine, "before_cursor_execute", capture)
    assert len(captured) == 1, captured
    statement, parameters = captured[0]

    if database.engine.dialect.name == "postgresql":
        assert statement.endswith("FOR UPDATE SKIP LOCKED")  # the clocks alone; complaints are read by id after
        scan = _postgres_clock_scan(database, statement, parameters)
        assert scan["Relation Name"] == "sla_clocks", scan
        assert scan["Actual Rows"] == 50, scan  # the index range scan reads the due clocks, not the 2,000
    else:
        with database.engine.connect() as connection:
            plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        details = [row[-1] for row in plan]
        print(f"\n[sqlite] sweep plan: {details}")
        assert any(f"sla_clocks USING INDEX {INDEX}" in detail for detail in details), details

    started = time.perf_counter()
    assert sweep(database, now) == Swept(warned=50, breached=0)
    elapsed = time.perf_counter() - started
    print(f"\n[{database.engine.dialect.name}] swept 50 due of 2,000 running clocks in {elapsed * 1000:.0f} ms")

    assert complaint_events(database, "sla.warning") == once_each(ids[:50])
    assert clock_events(database, "warned") == once_each(ids[:50])
    with database.readers() as session:
        warned = set(session.scalars(select(Clock.id).where(Clock.warned_at.is_not(None))))
        untouched = session.scalar(
            select(func.count())
            .select_from(Clock)
            .where(Clock.warned_at.is_(None), Clock.next_check_at == Clock.warn_at, Clock.state == ClockState.running)
        )
    assert warned == set(ids[:50])
    assert untouched == 1_950
    assert sweep(database, now) == Swept(0, 0)


def _postgres_clock_scan(database: Database, statement: str, parameters: Any) -> dict[str, Any]:
    """The plan node that reads sla_clocks through the index, from EXPLAIN ANALYZE of the sweep's query.

    With the table's statistics fresh, the plan must read the clocks through the index and reach each due clock's
    complaint without a sequential scan either. On tables this small (2,000 rows) the planner may find a
    sequential scan of ``complaints`` (or of the clocks) cheaper than the index, which says nothing of a large
    table; so if the first plan has one, the query is planned again with ``enable_seqscan = off``, which asks
    whether the indexes can serve the query at all. The EXPLAIN ANALYZE runs in a transaction rolled back.
    """
    with database.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE sla_clocks")
        connection.exec_driver_sql("ANALYZE complaints")
        connection.commit()
        for seqscan in ("on", "off"):
            with connection.begin() as transaction:
                connection.exec_driver_sql(f"SET LOCAL enable_seqscan = {seqscan}")
                (plan,) = connection.exec_driver_sql(
                    "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters
                ).scalar_one()
                transaction.rollback()
            nodes = list(_nodes(plan["Plan"]))
            if not [node for node in nodes if node["Node Type"] == "Seq Scan"]:
                break
        print(f"\n[postgresql] sweep plan (enable_seqscan={seqscan}): {_outline(plan['Plan'])}")
        assert not [node for node in nodes if node["Node Type"] == "Seq Scan"], _outline(plan["Plan"])
        index_nodes = [node for node in nodes if node.get("Index Name") == INDEX]
        assert index_nodes, _outline(plan["Plan"])
        return index_nodes[0]


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def _outline(node: dict[str, Any]) -> str:
    name = node["Node Type"] + (f" using {node['Index Name']}" if "Index Name" in node else "")
    children = ", ".join(_outline(child) for child in node.get("Plans", []))
    return f"{name}({children})" if children else name


# --- 3. several sweepers, one database ------------------------------------------------------------------------


def _race(databases: list[Database], now: datetime, batch: int) -> list[Swept]:
    """Each database's sweep, all started together."""
    barrier = threading.Barrier(len(databases))
    results: list[Swept | None] = [None] * len(databases)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = sweep(databases[i], now, batch=batch)
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), name=f"sweeper-{i}") for i in range(len(databases))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert all(result is not None for result in results)
    return [result for result in results if result is not None]


def test_two_sweepers_on_one_database_never_fire_twice(settings: Settings) -> None:
    """Two workers (two Database objects: two pools) sweep at once, in small batches so that they interleave.

    On SQLite the write lock is not handed out fairly: one sweeper may take it batch after batch while the other
    waits, for as long as the whole breach round takes (1,500 breaches, each with its escalation) on a loaded
    machine. The test gives the waiting one the time that takes; it is about firing once, not about SQLite's
    fairness."""
    settings = settings.model_copy(update={"sqlite_busy_timeout_ms": 60_000})
    sweepers = [Database.from_settings(settings), Database.from_settings(settings)]
    try:
        for handle in sweepers:  # connected beforehand, so that both really start at the barrier
            with handle.readers() as session:
                session.execute(text("SELECT 1"))
        dialect = sweepers[0].engine.dialect.name
        start = utcnow() - timedelta(days=30)
        ids: list[uuid.UUID] = []
        splits = []
        for round_ in range(3):  # each round: 500 fresh clocks whose warning has passed
            received = start + timedelta(hours=round_)
            fresh = bulk_clocks(sweepers[0], settings, [received + timedelta(seconds=i) for i in range(500)])
            ids += fresh
            now = received + timedelta(days=5, minutes=10)
            results = _race(sweepers, now, batch=20)
            splits.append([result.warned for result in results])
            assert sum(result.warned for result in results) == 500, results
            assert sum(result.breached for result in results) == 0, results
            assert still_due(sweepers[0], now) == 0
            assert complaint_events(sweepers[0], "sla.warning") == once_each(ids)
            assert clock_events(sweepers[0], "warned") == once_each(ids)

        # A last round breaches all 1,500 at once.
        now = start + timedelta(days=8)
        results = _race(sweepers, now, batch=20)
        splits.append([result.breached for result in results])
        assert sum(result.breached for result in results) == 1_500, results
        assert sum(result.warned for result in results) == 0, results
        assert complaint_events(sweepers[0], "sla.breached") == once_each(ids)
        assert complaint_events(sweepers[0], "complaint.escalated") == once_each(ids)
        assert clock_events(sweepers[0], "breached") == once_each(ids)
        assert complaint_events(sweepers[0], "sla.warning") == once_each(ids)
        assert still_due(sweepers[0], now + timedelta(days=365)) == 0

        print(f"\n[{dialect}] two sweepers' split per round (3 × 500 warned, then 1,500 breached): {splits}")
        if dialect == "postgresql":  # SKIP LOCKED shares the work; SQLite's writers take turns however they can
            assert all(sum(split[i] for split in splits) > 0 for i in range(2)), splits
    finally:
        for handle in sweepers:
            handle.dispose()


@pytest.mark.postgresql_only
def test_a_sweep_leaves_a_complaint_to_the_move_under_way_and_comes_back_for_it(
    handler: Caller, db: Database, settings: Settings
) -> None:
    """A complaint's history has one writer at a time: the sweep neither waits for the move nor writes beside it
    (its entry would be committed before the move's, out of the history's order, naming the state before it)."""
    now = utcnow()
    held, other = (handler.register(received_at=(now - timedelta(days=6)).isoformat()) for _ in range(2))
    with db.writers() as move:
        investigate_in(move, settings, handler.key, held["id"])
        swept: list[Swept] = []
        sweeping = threading.Thread(target=lambda: swept.append(sweep(db, now)))
        sweeping.start()
        sweeping.join(10)
        waited = sweeping.is_alive()
        move.commit()
        sweeping.join(10)

    assert not waited, "the sweep waited for the move"
    assert swept == [Swept(warned=1, breached=0)]  # the other complaint's warning only
    assert sweep(db, now) == Swept(warned=1, breached=0)
    history = handler.get(f"/v1/complaints/{held['id']}/events").json()
    assert [(e["move"], e["from_state"]) for e in history] == [
        ("register", None),
        ("investigate", "accepted"),
        ("sla.warning", "investigating"),
    ]
    assert [e["move"] for e in handler.get(f"/v1/complaints/{other['id']}/events").json()] == [
        "register",
        "sla.warning",
    ]


# --- 4. a worker killed mid-sweep -----------------------------------------------------------------------------


def test_a_worker_killed_mid_sweep_loses_nothing(
    database: Database, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    clocks_n = 5_000
    received = utcnow() - timedelta(days=6)  # warned after 5 days, due after 7: every clock is due a warning now
    ids = bulk_clocks(database, settings, [received + timedelta(milliseconds=i) for i in range(clocks_n)])

    env = {**os.environ, "TOUSU_DATABASE_URL": database_url, "TOUSU_LOG_LEVEL": "WARNING"}
    with (tmp_path / "worker.err").open("w+") as stderr:
        started = time.monotonic()
        worker = subprocess.Popen([str(TOUSU), "worker", "--once"], env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            # Killed as soon as its first batch is committed (or when it is done, if it is quicker than the poll).
            while worker.poll() is None and count_clock_events(database, "warned") == 0:
                assert time.monotonic() - started < 90, "the worker committed nothing in 90 s"
                time.sleep(0.01)
            killed = worker.poll() is None
            if killed:
                worker.send_signal(signal.SIGKILL)
        finally:
            if worker.poll() is None:
                worker.kill()
            worker.wait(timeout=30)
        stderr.seek(0)
        output = stderr.read()
    if killed:
        assert worker.returncode == -signal.SIGKILL
    else:
        assert worker.returncode == 0, output
    by_worker = count_clock_events(database, "warned")
    # Whatever the worker committed is whole: each warned clock has its event, and no half-done clock exists.
    with database.readers() as session:
        assert session.scalar(select(func.count()).select_from(Clock).where(Clock.warned_at.is_not(None))) == by_worker
    assert sum(complaint_events(database, "sla.warning").values()) == by_worker

    now = utcnow()
    started = time.perf_counter()
    rest = sweep(database, now)
    elapsed = time.perf_counter() - started
    print(
        f"\n[{database.engine.dialect.name}] worker {'killed' if killed else 'finished'} after committing "
        f"{by_worker} of {clocks_n} warnings; the next sweep fired {rest.warned} in {elapsed:.1f} s"
    )
    assert rest == Swept(warned=clocks_n - by_worker, breached=0)
    assert complaint_events(database, "sla.warning") == once_each(ids)
    assert clock_events(database, "warned") == once_each(ids)
    assert still_due(database, now) == 0
    with database.readers() as session:
        unwarned = session.scalar(select(func.count()).select_from(Clock).where(Clock.warned_at.is_(None)))
    assert unwarned == 0


# --- 5. the sweeper thread and the worker command -------------------------------------------------------------


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def failures(self) -> list[logging.LogRecord]:
        return [r for r in self.records if r.levelno >= logging.ERROR and r.exc_info and "sweep failed" in r.message]


@pytest.fixture
def sweeper_log() -> Iterator[Records]:
    """What ``tousu.sweeper`` logs, caught on the logger itself (whatever the logging configuration says)."""
    logger = logging.getLogger("tousu.sweeper")
    handler, level, disabled = Records(), logger.level, logger.disabled
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.disabled = False
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)
    logger.disabled = disabled


def test_the_sweeper_thread_survives_a_database_that_refuses_connections(sweeper_log: Records) -> None:
    settings = Settings(database_url=REFUSED_URL, sweep_interval=0.05, sweep_in_serve=False)
    database = Database.from_settings(settings)
    sweeper = Sweeper(database, settings)
    try:
        assert sweeper.once() is None
        assert len(sweeper_log.failures()) == 1
        sweeper.start()
        deadline = time.monotonic() + 30
        while len(sweeper_log.failures()) < 4:
            assert time.monotonic() < deadline, "the sweeper thread stopped retrying"
            time.sleep(0.02)
        assert sweeper.running
    finally:
        sweeper.stop()
        database.dispose()
    assert not sweeper.running


def _locked_settings(settings: Settings, database_url: str) -> Settings:
    """The test database, with a short wait for a lock: a held lock becomes an error instead of a wait."""
    if make_url(database_url).get_backend_name() == "sqlite":
        return Settings(database_url=database_url, sqlite_busy_timeout_ms=100, sweep_in_serve=False)
    url = make_url(database_url).update_query_dict({"options": "-c lock_timeout=100"})
    return Settings(database_url=url.render_as_string(hide_password=False), sweep_in_serve=False)


def test_the_sweeper_recovers_when_the_database_answers_again(
    database: Database, settings: Settings, database_url: str, sweeper_log: Records
) -> None:
    (clock_id,) = bulk_clocks(database, settings, [utcnow() - timedelta(days=6)])
    short = _locked_settings(settings, database_url)
    handle = Database.from_settings(short)
    sweeper = Sweeper(handle, short)
    try:
        # Another writer holds the database (SQLite: the write lock) or the clocks' table (PostgreSQL).
        with database.engine.execution_options(tousu_writes=True).connect() as blocker:
            blocker.begin()
            if blocker.dialect.name == "postgresql":
                blocker.exec_driver_sql("LOCK TABLE sla_clocks IN ACCESS EXCLUSIVE MODE")
            else:
                blocker.exec_driver_sql("SELECT 1")  # BEGIN IMMEDIATE: the write lock is taken
            assert sweeper.once() is None
            assert len(sweeper_log.failures()) == 1
            blocker.rollback()
        assert sweeper.once() == Swept(warned=1, breached=0)
    finally:
        handle.dispose()
    assert complaint_events(database, "sla.warning") == once_each([clock_id])


def tousu_worker_once(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOUSU_DATABASE_URL": database_url}
    return subprocess.run(
        [str(TOUSU), "worker", "--once"], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_tousu_worker_once_prints_the_counts(handler: Caller, db: Database, database_url: str) -> None:
    now = utcnow()
    for i in range(3):
        handler.register(complainant=another_customer(i), received_at=(now - timedelta(days=6)).isoformat())  # warned
    for i in range(3, 5):
        handler.register(complainant=another_customer(i), received_at=(now - timedelta(days=8)).isoformat())  # due
    handler.register(complainant=another_customer(5))  # nothing due

    result = tousu_worker_once(database_url)
    assert result.returncode == 0, result.stderr
    assert "warned 3, breached 2" in result.stderr

    assert sweep(db, utcnow()) == Swept(0, 0)  # the worker committed what it counted
    assert sum(complaint_events(db, "sla.warning").values()) == 3
    assert sum(complaint_events(db, "sla.breached").values()) == 2


def test_tousu_worker_once_fails_when_the_database_refuses_connections() -> None:
    result = tousu_worker_once(REFUSED_URL)
    assert result.returncode == 1
    assert "sweep failed" in result.stderr
    assert "warned" not in result.stderr
