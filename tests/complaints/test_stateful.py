"""Random walks through the complaint lifecycle over HTTP, checked step by step against a model kept here.

A hypothesis ``RuleBasedStateMachine`` registers complaints (up to two per example) and throws every move and
notes at them: valid and invalid bodies (no body at all included), from keys of every role (handler, supervisor,
manager, admin, intake, reporter and two store keys bound to different stores), with remedy amounts on both sides
of each authority, self-approvals (the proposer's X-Actor as sent, in capitals, padded), unknown complaints, bad
credentials and bad X-Actor headers. Rules named after a move aim it at a complaint in a state it starts from, so
walks get deep; ``any_move`` sends anything anywhere.

The model predicts every answer (status, problem type, guard, allowed moves, allowed roles) from the documented
rules alone (the README and docs/integrators.md), not from ``app.complaints.workflow``. After every step, for the
complaints this example made:

- the state is one of the six, and state, version and the modelled fields are the model's;
- GET /events holds the register event plus one event per accepted (2xx) move or note, in order, each with its
  key (tousu's own events, such as a media complaint's escalation, carry no key and move no state);
- a refused (4xx) request changed nothing: the complaint (but for a running clock's countdown) and its history
  read exactly as before;
- the version rose by one per accepted move or note;
- ``allowed_moves`` for every key lists only moves the workflow allows from the current state, and exactly
  those the key's role may make now; a store key that may not see the complaint gets 404;
- no 5xx, ever.

Tables are emptied only between tests, so each example tracks the complaints it registered itself. Hypothesis'
explain phase is left out: it traces every line of the app while replaying, and takes minutes.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from app.config import Settings
from tests.conftest import Caller, complaint_body

MACHINE_SETTINGS = hypothesis_settings(
    max_examples=20,
    stateful_step_count=30,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

STATES = ("accepted", "rejected", "investigating", "awaiting_approval", "resolved", "revisited")
HANDLING = frozenset({"handler", "supervisor", "manager", "admin"})
APPROVING = frozenset({"supervisor", "manager", "admin"})
NOTE_ROLES = HANDLING | {"intake"}
REGISTER_ROLES = HANDLING | {"intake"}


@dataclass(frozen=True)
class MoveSpec:
    sources: frozenset[str]
    dest: str | None  # None: the state stays
    roles: frozenset[str]


# The move table of docs/integrators.md, in the workflow's order (allowed_moves lists moves in this order).
SPEC: dict[str, MoveSpec] = {
    "reject": MoveSpec(frozenset({"accepted", "investigating"}), "rejected", HANDLING),
    "investigate": MoveSpec(frozenset({"accepted"}), "investigating", HANDLING),
    "store-feedback": MoveSpec(frozenset({"investigating"}), None, HANDLING | {"store", "department"}),
    "propose": MoveSpec(frozenset({"investigating"}), "awaiting_approval", HANDLING),
    "resolve": MoveSpec(frozenset({"investigating"}), "resolved", HANDLING),
    "approve": MoveSpec(frozenset({"awaiting_approval"}), "resolved", APPROVING),
    "send-back": MoveSpec(frozenset({"awaiting_approval"}), "investigating", HANDLING),
    "fulfil": MoveSpec(frozenset({"resolved"}), None, HANDLING),
    "call-attempt": MoveSpec(frozenset({"resolved"}), None, HANDLING),
    "revisit": MoveSpec(frozenset({"resolved"}), "revisited", HANDLING),
    "reopen": MoveSpec(frozenset({"resolved", "revisited", "rejected"}), "investigating", HANDLING),
    "reassign": MoveSpec(frozenset({"accepted", "investigating", "awaiting_approval", "resolved"}), None, HANDLING),
}
MOVES = tuple(SPEC)
# Offered but not walked here (tests/complaints/test_escalation.py walks them): raising the priority, while the
# complaint is open and not yet major. The walks' complaints are never major, so never owe an incident report.
ESCALATE = MoveSpec(frozenset({"accepted", "investigating", "awaiting_approval", "resolved"}), None, HANDLING)
REQUEST_EVENTS = {"register", "note", *MOVES}


@dataclass(frozen=True)
class Key:
    role: str
    store_id: str | None = None
    department: str | None = None

    @property
    def unit(self) -> tuple[str, str] | None:
        if self.role == "store" and self.store_id:
            return ("store", self.store_id)
        if self.role == "department" and self.department:
            return ("department", self.department)
        return None


KEYS: dict[str, Key] = {
    "handler": Key("handler"),
    "supervisor": Key("supervisor"),
    "manager": Key("manager"),
    "admin": Key("admin"),
    "intake": Key("intake"),
    "reporter": Key("reporter"),
    "store-ft": Key("store", "SZ-FT-012"),
    "store-lh": Key("store", "SZ-LH-003"),
    "dept-wg": Key("department", department="物业工程部"),
}
# Keys drawn for moves: the roles that may move things come up more often, so walks get deep.


def keys_for(*likely: str) -> st.SearchStrategy[str]:
    """Any key, the likely ones twice as often as the rest."""
    return st.sampled_from([*likely, *likely, *KEYS])


MOVE_KEYS = keys_for("handler", "supervisor", "manager", "admin")
ACTORS = st.sampled_from(["handler-07", "supervisor-03", "manager-01", "agent-0042", "张三", "店长王五", " padded-07 "])

STORES = ("SZ-FT-012", "SZ-LH-003")
DEPARTMENTS = ("物业工程部", "售后服务部")
# What the history records even when it was not sent: the store a feedback is for, whether a note is internal.
# And the owner a reassignment took the complaint from.
ALWAYS_RECORDED = {"store-feedback": {"store_id"}, "note": {"visible_to_unit"}, "reassign": {"previous_owner"}}
TEXTS = st.sampled_from(["不成立，敬请谅解。", "  两边有空格的说明  ", "第一行\n第二行", "emoji 🙂 也可以", "x" * 2000])
CENT = Decimal("0.01")
MAX_YUAN = Decimal("9999999999.99")
MONEY_KINDS = {"refund", "price_reduction", "compensation"}
CHANNELS = ("letter", "sms", "email", "phone", "in_person", "wechat")
UNREACHABLE_AFTER_DAYS = 3  # the default of TOUSU_FOLLOW_UP_UNREACHABLE_AFTER_DAYS
KINDS = ("apology", "refund", "exchange", "price_reduction", "free_repair", "compensation", "other")
# Both sides of every authority (handler 0, supervisor 2,000, manager 20,000), and some that are not money at all.
AMOUNTS = (
    "0",
    "0.00",
    "0.01",
    300,
    "1999.99",
    "2000",
    "2000.00",
    "2000.01",
    2001,
    "19999.99",
    20000,
    "20000.00",
    "20000.01",
    "9999999999.99",
    "-1",
    "1.005",
    "10000000000.00",
)

REMEDY = st.fixed_dictionaries(
    {"kind": st.sampled_from(KINDS)}, optional={"amount": st.sampled_from(AMOUNTS), "description": st.just("退还货款")}
)
PROPOSAL = st.fixed_dictionaries({"remedy": REMEDY, "reply": TEXTS, "reply_channel": st.sampled_from(CHANNELS)})
VALID: dict[str, st.SearchStrategy[Any]] = {
    "reject": st.fixed_dictionaries(
        {
            "reason": st.sampled_from(
                ["misunderstanding", "outside_responsibility", "outside_contract", "duplicate", "other"]
            ),
            "explanation": TEXTS,
        }
    ),
    "investigate": st.one_of(
        st.fixed_dictionaries(
            {"store_id": st.sampled_from(STORES)}, optional={"department": st.sampled_from(DEPARTMENTS), "note": TEXTS}
        ),
        st.fixed_dictionaries({"department": st.sampled_from(DEPARTMENTS)}, optional={"note": TEXTS}),
    ),
    "store-feedback": st.fixed_dictionaries(
        {
            "cause": TEXTS,
            "responsibility": st.sampled_from(
                ["company_fault", "staff_fault", "customer_misunderstanding", "third_party", "undetermined"]
            ),
        },
        optional={
            "responsible_person": st.just("李四"),
            "store_id": st.sampled_from([*STORES, "SZ-XX-999"]),
            "department": st.sampled_from([*DEPARTMENTS, "不存在部"]),
            "actions_taken": TEXTS,
        },
    ),
    "propose": PROPOSAL,
    "resolve": PROPOSAL,
    "approve": st.one_of(
        st.none(),
        st.fixed_dictionaries(
            {},
            optional={
                "reply": st.one_of(st.none(), TEXTS),
                "note": st.one_of(st.none(), TEXTS),
                "reply_channel": st.sampled_from(CHANNELS),
            },
        ),
    ),
    "fulfil": st.one_of(
        st.none(),
        st.fixed_dictionaries({}, optional={"payment_reference": st.just("WX-REFUND-4200001987"), "note": TEXTS}),
    ),
    "call-attempt": st.fixed_dictionaries(
        {"outcome": st.sampled_from(["no_answer", "busy", "wrong_number"])}, optional={"note": TEXTS}
    ),
    "send-back": st.fixed_dictionaries({"reason": TEXTS}),
    "revisit": st.one_of(
        st.fixed_dictionaries(
            {"satisfaction": st.sampled_from(["satisfied", "unsatisfied", "unreachable"])},
            optional={"call_notes": TEXTS},
        ),
        st.fixed_dictionaries(
            {"satisfaction": st.just("neutral"), "improvement": TEXTS}, optional={"call_notes": TEXTS}
        ),
    ),
    "reopen": st.fixed_dictionaries(
        {"reason": TEXTS},
        optional={
            "store_id": st.sampled_from([*STORES, None]),
            "department": st.sampled_from([*DEPARTMENTS, None]),
        },
    ),
    "reassign": st.fixed_dictionaries(
        {"owner": st.sampled_from(["handler-07", "HANDLER-07", "handler-12", " agent-0042 "]), "reason": TEXTS}
    ),
    "notes": st.fixed_dictionaries({"text": TEXTS}),
}
# Bodies the schema refuses (422). None is "no body at all".
INVALID: dict[str, list[Any]] = {
    "reject": [
        None,
        {"reason": "other"},
        {"explanation": "不成立"},
        {"reason": "other", "explanation": "   "},
        {"reason": "bogus", "explanation": "不成立"},
        {"reason": "other", "explanation": "a\x00b"},
        {"reason": "other", "explanation": "不成立", "state": "resolved"},
    ],
    "investigate": [
        None,
        {},
        {"note": "查"},
        {"store_id": "bad id!"},
        {"department": "   "},
        {"store_id": "SZ-FT-012", "version": 9},
    ],
    "store-feedback": [
        None,
        {"cause": "店员未按流程操作"},
        {"responsibility": "staff_fault"},
        {"cause": "店员未按流程操作", "responsibility": "the_intern"},
        {"cause": " ", "responsibility": "staff_fault"},
        {"cause": "x", "responsibility": "staff_fault", "store_id": ""},
    ],
    "propose": [
        None,
        {"reply": "抱歉"},
        {"remedy": {"kind": "refund", "amount": "300"}},
        {"remedy": {"kind": "bribe"}, "reply": "抱歉", "reply_channel": "sms"},
        {"remedy": {"kind": "apology"}, "reply": "  ", "reply_channel": "sms"},
        {"remedy": {"kind": "apology"}, "reply": "抱歉", "proposed_by": "someone-else"},
    ],
    "approve": [{"reply": ""}, {"reply": "   "}, {"approved_by": "someone-else"}, {"note": "a\x00b"}, []],
    "send-back": [None, {}, {"reason": ""}, {"reason": "重新协商", "remedy": None}],
    "fulfil": [{"payment_reference": ""}, {"fulfilled_at": "2100-01-01T00:00:00+08:00"}, {"fulfilled_by": "x"}, []],
    "call-attempt": [
        None,
        {},
        {"outcome": "hung_up"},
        {"outcome": "call_back"},
        {"outcome": "busy", "call_back_at": "2026-11-26T19:30:00+08:00"},
    ],
    "revisit": [None, {}, {"satisfaction": "happy"}, {"call_notes": "客户满意"}, {"satisfaction": "neutral"}],
    "reopen": [
        None,
        {},
        {"reason": "   "},
        {"reason": "新证据", "store_id": ""},
        {"reason": "新证据", "reopen_count": 0},
    ],
    "reassign": [None, {}, {"owner": "handler-12"}, {"reason": "转交"}, {"owner": "  ", "reason": "转交"}],
    "notes": [None, {}, {"text": ""}, {"text": "a\x00b"}, {"text": "催促", "move": "approve"}],
}
INVALID["resolve"] = INVALID["propose"]
# One valid body per move, for requests that must be refused before the body matters.
PLAIN: dict[str, Any] = {
    "reject": {"reason": "other", "explanation": "不成立"},
    "investigate": {"store_id": "SZ-FT-012"},
    "store-feedback": {"cause": "店员未按流程操作", "responsibility": "staff_fault"},
    "propose": {"remedy": {"kind": "apology"}, "reply": "抱歉", "reply_channel": "sms"},
    "resolve": {"remedy": {"kind": "apology"}, "reply": "抱歉", "reply_channel": "sms"},
    "approve": {},
    "send-back": {"reason": "重新协商"},
    "fulfil": {"payment_reference": "WX-REFUND-4200001987"},
    "call-attempt": {"outcome": "no_answer"},
    "revisit": {"satisfaction": "satisfied"},
    "reopen": {"reason": "新证据", "store_id": "SZ-FT-012"},
    "reassign": {"owner": "handler-99", "reason": "转交"},
    "notes": {"text": "催促"},
}

REGISTER_VALID = [
    complaint_body(),
    complaint_body(store_id=None, department="物业工程部"),
    complaint_body(channel="media", category="incident"),
    complaint_body(store_id="SZ-LH-003", department="售后服务部"),
]
REGISTER_INVALID = [
    complaint_body(store_id=None),
    complaint_body(channel="fax"),
    complaint_body(complainant={"name": "张三", "phone": "12"}),
    {**complaint_body(), "state": "resolved"},
]


def bodies(move: str) -> st.SearchStrategy[Any]:
    """Four valid bodies to one invalid one."""
    return st.sampled_from([True, True, True, True, False]).flatmap(
        lambda valid: VALID[move] if valid else st.sampled_from(INVALID[move])
    )


def stable(value: Any) -> Any:
    """A complaint as read, without what the passing of time alone changes (a running clock's countdown), and
    with its clocks in id order: they are listed by start time, and two clocks started by one move (a reopen that
    dispatches to a store) tie, so PostgreSQL may list them either way round from one read to the next. The
    earlier complaints of the same phone and the related ones are left out too: their states move with those
    complaints."""
    if isinstance(value, dict):
        return {
            k: sorted(stable(v), key=lambda clock: clock["id"]) if k == "clocks" else stable(v)
            for k, v in value.items()
            if k not in TIME_DERIVED and k not in ("earlier_complaints", "related")
        }
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


TIME_DERIVED = {"remaining_seconds", "next_call_slot"}


def yuan(raw: Any) -> Decimal | None:
    """The amount as the schema takes it, or None when the schema refuses it (a JSON number included)."""
    if not isinstance(raw, str):
        return None
    try:
        amount = Decimal(str(raw))
    except InvalidOperation:
        return None
    if amount < 0 or amount > MAX_YUAN or amount != amount.quantize(CENT):
        return None
    return amount.quantize(CENT)


def remedy_amount(remedy: dict[str, Any]) -> Decimal | None:
    """The remedy's amount, or None when the schema refuses the remedy."""
    amount = yuan(remedy.get("amount", "0"))
    if amount is None:
        return None
    if remedy["kind"] == "apology" and amount != 0:
        return None
    if remedy["kind"] != "apology" and amount <= 0:
        return None  # every remedy but an apology has a value
    return amount


def body_is_valid(move: str, body: Any) -> bool:
    if any(body == bad and type(body) is type(bad) for bad in INVALID[move]):
        return False
    if move in ("propose", "resolve"):
        return remedy_amount(body["remedy"]) is not None
    if move == "store-feedback":
        return not (body.get("store_id") and body.get("department"))  # one unit's feedback
    return True


@dataclass
class Model:
    """What one complaint must look like, from the requests the API accepted."""

    id: str
    registered: dict[str, Any]  # as registered: owner, channel, priority, the store or department complained about
    version: int = 1
    state: str = "accepted"
    events: list[tuple[str, str | None, str, str]] = field(default_factory=list)
    responsible_store_id: str | None = None
    responsible_department: str | None = None
    rejection_reason: str | None = None
    responsibility: str | None = None
    remedy: dict[str, Any] | None = None
    remedy_value: Decimal | None = None
    reply: str | None = None
    proposed_by: str | None = None
    approved_by: str | None = None
    satisfaction: str | None = None
    reply_channel: str | None = None
    fulfilled: bool = False
    call_attempts: int = 0
    improvement: str | None = None
    reopen_count: int = 0
    sent: list[Any] = field(default_factory=list)  # the body of each accepted move or note, in order

    def fields(self) -> dict[str, Any]:
        return {
            **self.registered,
            "state": self.state,
            "version": self.version,
            "responsible_store_id": self.responsible_store_id,
            "responsible_department": self.responsible_department,
            "rejection_reason": self.rejection_reason,
            "responsibility": self.responsibility,
            "remedy": self.remedy,
            "reply": self.reply,
            "proposed_by": self.proposed_by,
            "approved_by": self.approved_by,
            "satisfaction": self.satisfaction,
            "reply_channel": self.reply_channel,
            "remedy_owed": self.remedy_owed,
            "improvement": self.improvement,
            "reopen_count": self.reopen_count,
        }

    def units(self) -> list[tuple[str, str]]:
        """The units the complaint is dispatched to: each owes its feedback."""
        found = [("store", self.responsible_store_id)] if self.responsible_store_id else []
        return found + ([("department", self.responsible_department)] if self.responsible_department else [])

    @property
    def remedy_owed(self) -> bool:
        return self.state == "resolved" and (self.remedy_value or 0) > 0 and not self.fulfilled

    def visible_to(self, key: Key) -> bool:
        return key.unit is None or key.unit in self.units()

    def allowed_moves(self, key: Key) -> list[str]:
        return [
            name
            for name, spec in SPEC.items()
            if self.state in spec.sources
            and key.role in spec.roles
            and (name != "store-feedback" or (bool(self.units()) and self.visible_to(key)))
            and (name != "fulfil" or self.remedy_owed)
        ] + (["escalate"] if self.state in ESCALATE.sources and key.role in ESCALATE.roles else [])


@dataclass(frozen=True)
class Outcome:
    status: int
    problem: str | None = None  # problem type slug
    guard: str | None = None


PICK = st.integers(0, 3)
ALL_KEYS = st.sampled_from(list(KEYS))
APPROVER_KEYS = keys_for("supervisor", "manager", "admin")
FEEDBACK_KEYS = keys_for("store-ft", "store-lh", "dept-wg", "handler", "supervisor")
# Any move or a note with any body, for any complaint: mostly refused, which is the point.
ACTIONS = st.sampled_from([*MOVES, "notes"]).flatmap(lambda path: st.tuples(st.just(path), bodies(path)))
PHONES = itertools.count(1)
REPEAT_COUNT = Settings.model_fields["repeat_count"].default
NOWHERE = "01a20000-0000-7000-8000-000000000000"  # a complaint id no one registered


def lifecycle_machine(
    client: Any, callers: dict[str, Caller], authority: dict[str, Decimal | None], tally: Counter[str]
) -> type[RuleBasedStateMachine]:
    handler = callers["handler"]

    class ComplaintLifecycle(RuleBasedStateMachine):
        """Rules named after a move send it to one of this example's complaints in a state it starts from
        (``pick`` chooses which), so walks get deep; ``any_move`` sends anything anywhere."""

        complaints = Bundle("complaints")

        def __init__(self) -> None:
            super().__init__()
            self.models: dict[str, Model] = {}  # this example's complaints, in registration order
            self.seen: dict[str, dict[str, Any]] = {}  # each one as last read
            self.seen_events: dict[str, list[dict[str, Any]]] = {}
            self.changed: set[str] = set()  # changed by an accepted request since the last check
            self.touched: str | None = None  # the complaint the last request was about
            # This example's customer: the examples share the database, and the Nth complaint from one phone rises.
            self.phone = f"138{next(PHONES):04d}8000"

        # -- the oracle ------------------------------------------------------------------------------------

        def where(self, move: str) -> list[str]:
            return [cid for cid, model in self.models.items() if model.state in SPEC[move].sources]

        def covers(self, key: Key, amount: Decimal) -> bool:
            limit = authority.get(key.role)
            return limit is None or amount <= limit

        def refusing_guard(self, model: Model, key: Key, actor: str, move: str, body: Any) -> str | None:
            if move == "store-feedback":
                units = model.units()
                named = key.unit
                if named is None and body.get("store_id"):
                    named = ("store", body["store_id"])
                elif named is None and body.get("department"):
                    named = ("department", body["department"])
                if not units or (named is None and len(units) > 1) or (named or units[0]) not in units:
                    return "dispatched_store"
            elif move == "resolve":
                if not self.covers(key, remedy_amount(body["remedy"]) or Decimal(0)):
                    return "within_own_authority"
            elif move == "approve":
                if not self.covers(key, model.remedy_value or Decimal(0)):
                    return "authority_covers_amount"
                if model.proposed_by is not None and model.proposed_by.casefold() == actor.strip().casefold():
                    return "not_the_proposer"
            elif move == "fulfil":
                if not model.remedy_owed:
                    return "remedy_owed"
                if model.remedy and model.remedy["kind"] in MONEY_KINDS and not (body or {}).get("payment_reference"):
                    return "payment_referenced"
            elif move == "revisit":
                if body["satisfaction"] == "unsatisfied":
                    return "satisfied_or_neutral"
                if model.remedy_owed:
                    return "remedy_not_owed"
                # An example runs within seconds: its calls are all on one day (unless it runs over midnight).
                if body["satisfaction"] == "unreachable" and min(model.call_attempts, 1) < UNREACHABLE_AFTER_DAYS:
                    return "tried_enough"
            elif move == "reopen":
                named = body.get("store_id") or body.get("department")
                if not (model.responsible_store_id or model.responsible_department or named):
                    return "responsible_unit_named"
            elif move == "reassign" and body["owner"].strip().casefold() == model.registered["owner"].casefold():
                return "someone_else"
            return None

        def expect_move(self, model: Model, key: Key, actor: str, move: str, body: Any) -> Outcome:
            if not body_is_valid(move, body):
                return Outcome(422)
            if not model.visible_to(key):
                return Outcome(404, "not-found")
            if key.role not in SPEC[move].roles:
                return Outcome(403, "forbidden")
            if key.unit is not None and move == "store-feedback":
                for kind, name in (("store", "store_id"), ("department", "department")):
                    if body.get(name) is not None and (kind, body[name]) != key.unit:
                        return Outcome(403, "not-own-unit")  # a unit's key speaks for its own unit only
            if model.state not in SPEC[move].sources:
                return Outcome(409, "illegal-move")
            guard = self.refusing_guard(model, key, actor, move, body)
            if guard is not None:
                return Outcome(409, "guard-refused", guard)
            return Outcome(200)

        def apply(self, model: Model, actor: str, move: str, body: Any) -> None:
            actor = actor.strip()
            before = model.state
            if move == "reject":
                model.rejection_reason = body["reason"]
                model.reply = body["explanation"].strip()
            elif move == "investigate":
                model.responsible_store_id = body.get("store_id")
                model.responsible_department = body.get("department")
            elif move == "store-feedback":
                model.responsibility = body["responsibility"]
            elif move in ("propose", "resolve"):
                remedy = body["remedy"]
                model.remedy_value = remedy_amount(remedy)
                model.remedy = {
                    "kind": remedy["kind"],
                    "amount": model.remedy_value,
                    "description": remedy.get("description"),
                }
                model.reply = body["reply"].strip()
                model.reply_channel = body["reply_channel"]
                model.proposed_by = actor if move == "propose" else None
                model.approved_by = None if move == "propose" else actor
                if move == "resolve":
                    model.fulfilled, model.call_attempts, model.improvement = False, 0, None
            elif move == "approve":
                if body and body.get("reply"):
                    model.reply = body["reply"].strip()
                if body and body.get("reply_channel"):
                    model.reply_channel = body["reply_channel"]
                model.approved_by = actor
                model.fulfilled, model.call_attempts, model.improvement = False, 0, None
            elif move == "send-back":
                model.remedy = model.remedy_value = model.reply = model.proposed_by = model.reply_channel = None
            elif move == "fulfil":
                model.fulfilled = True
            elif move == "call-attempt":
                model.call_attempts += 1
            elif move == "revisit":
                model.satisfaction = body["satisfaction"]
                model.improvement = body.get("improvement", "").strip() or None
            elif move == "reopen":
                if body.get("store_id") or body.get("department"):
                    model.responsible_store_id = body.get("store_id")
                    model.responsible_department = body.get("department")
                if before == "resolved":
                    model.satisfaction = "unsatisfied"
                model.reopen_count += 1
                model.rejection_reason = None
            elif move == "reassign":
                model.registered = {**model.registered, "owner": body["owner"].strip()}
            model.state = SPEC[move].dest or before
            model.version += 1
            model.events.append((move, before, model.state, actor))
            model.sent.append(body)

        # -- checks of one answer --------------------------------------------------------------------------

        def check_answer(self, response: Any, expected: Outcome, key: Key, model: Model | None, what: str) -> None:
            assert response.status_code < 500, f"{what}: {response.status_code} {response.text}"
            assert response.status_code == expected.status, (
                f"{what}: expected {expected}, got {response.status_code} {response.text}"
            )
            tally[f"{what.split()[0]} {response.status_code} {expected.guard or expected.problem or ''}".strip()] += 1
            if expected.status < 400:
                return
            assert response.headers["content-type"] == "application/problem+json", what
            problem = response.json()
            if expected.problem is not None:
                assert problem["type"].endswith("/" + expected.problem), (what, problem)
            if expected.guard is not None:
                assert problem["guard"] == expected.guard, (what, problem)
            if expected.status == 409 and model is not None:
                assert problem["allowed_moves"] == model.allowed_moves(key), (what, problem)
                if expected.problem == "illegal-move":
                    assert problem["state"] == model.state, (what, problem)

        def check_complaint_out(self, body: dict[str, Any], key: Key, model: Model, what: str) -> None:
            assert body["state"] in STATES, (what, body["state"])
            got = {name: body[name] for name in model.fields()}
            if got["remedy"] is not None:
                amount = got["remedy"]["amount"]
                # Yuan with two decimals ("300.00"), except that a zero amount reads "0" (a quirk, not checked here).
                assert amount == "0" or amount == f"{Decimal(amount):.2f}", (what, amount)
                got["remedy"] = {**got["remedy"], "amount": Decimal(amount)}
            assert got == model.fields(), f"{what}: the complaint is not what the accepted requests made it"
            times = body["times"]
            assert times[f"{model.state}_at"] is not None, (what, times)
            assert (times["reopened_at"] is None) == (model.reopen_count == 0), (what, times)
            assert (body["dispatched_at"] is None) == (not model.units()), (
                what,
                body["dispatched_at"],
            )
            assert body["allowed_moves"] == model.allowed_moves(key), (what, key, body["allowed_moves"])
            assert body["follow_up_calls"]["attempts"] == model.call_attempts, (what, body["follow_up_calls"])
            assert (body["fulfilment"] is not None) == model.fulfilled, (what, body["fulfilment"])
            if key.unit is not None:
                assert body["complainant"] == {
                    "name": "张*",
                    "phone": "138****8000",
                    "email": None,
                    "customer_ref": None,
                    "address": None,
                }

        # -- sending -----------------------------------------------------------------------------------------

        def attempt(self, complaint: str, key_name: str, actor: str, move: str, body: Any) -> None:
            model, key = self.models[complaint], KEYS[key_name]
            expected = self.expect_move(model, key, actor, move, body)
            response = callers[key_name].as_actor(actor).post(f"/v1/complaints/{complaint}/{move}", json=body)
            self.touched = complaint
            what = f"{move} by the {key_name} key as {actor!r} on a complaint in {model.state} with {body!r}"
            self.check_answer(response, expected, key, model, what)
            if expected.problem == "forbidden":
                assert set(response.json()["allowed_roles"]) == SPEC[move].roles, (what, response.text)
            if expected.status == 200:
                self.apply(model, actor, move, body)
                self.changed.add(complaint)
                assert response.headers["ETag"] == f'"{model.version}"', what
                self.check_complaint_out(response.json(), key, model, what)

        def attempt_where_legal(self, move: str, pick: int, key: str, actor: str, body: Any) -> None:
            candidates = self.where(move)
            self.attempt(candidates[pick % len(candidates)], key, actor, move, body)

        def register_as(self, key_name: str, actor: str, body: dict[str, Any]) -> Any:
            key = KEYS[key_name]
            if body in REGISTER_INVALID:
                expected = Outcome(422)
            elif key.role not in REGISTER_ROLES:
                expected = Outcome(403, "forbidden")
            else:
                expected = Outcome(201)
            if expected.status == 201:
                body = {**body, "complainant": {**body["complainant"], "phone": self.phone}}
            response = callers[key_name].as_actor(actor).post("/v1/complaints", json=body)
            self.check_answer(response, expected, key, None, f"register by the {key_name} key with {body!r}")
            if expected.status != 201:
                return multiple()
            created = response.json()
            repeat = len(self.models) + 1 >= REPEAT_COUNT  # the Nth from this example's phone rises to urgent
            registered = {
                "owner": actor.strip(),
                "channel": body["channel"],
                "priority": "media" if body["channel"] == "media" else "urgent" if repeat else "normal",
                "store_id": body.get("store_id"),
                "department": body.get("department"),
            }
            model = Model(created["id"], registered, events=[("register", None, "accepted", actor.strip())])
            self.models[model.id] = model
            self.changed.add(model.id)
            self.check_complaint_out(created, key, model, "register")
            return model.id

        # -- rules -------------------------------------------------------------------------------------------

        @initialize(target=complaints)
        def first_complaint(self) -> str:
            return self.register_as("handler", "handler-07", REGISTER_VALID[0])

        @precondition(lambda self: len(self.models) < 2)
        @rule(
            target=complaints,
            key=keys_for("handler", "intake"),
            actor=ACTORS,
            body=st.sampled_from(REGISTER_VALID * 2 + REGISTER_INVALID),
        )
        def register(self, key: str, actor: str, body: dict[str, Any]) -> Any:
            return self.register_as(key, actor, body)

        @precondition(lambda self: self.where("reject"))
        @rule(pick=PICK, key=MOVE_KEYS, actor=ACTORS, body=bodies("reject"))
        def reject(self, pick: int, key: str, actor: str, body: Any) -> None:
            self.attempt_where_legal("reject", pick, key, actor, body)

        @precondition(lambda self: self.where("investigate"))
        @rule(pick=PICK, key=MOVE_KEYS, actor=ACTORS, body=bodies("investigate"))
        def investigate(self, pick: int, key: str, actor: str, body: Any) -> None:
            self.attempt_where_legal("investigate", pick, key, actor, body)

        @precondition(lambda self: self.where("store-feedback"))
        @rule(pick=PICK, key=FEEDBACK_KEYS, actor=ACTORS, body=bodies("store-feedback"))
        def store_feedback(self, pick: int, key: str, actor: str, body: Any) -> None:
            self.attempt_where_legal("store-feedback", pick, key, actor, body)

        @precondition(lambda self: self.where("propose"))
        @rule(pick=PICK, key=MOVE_KEYS, actor=ACTORS, body=bodies("propose"))
        def propose(self, pick: int, key: str, actor: str, body: Any) -> None:
            self.attempt_where_legal("propose", pick, key, actor, body)

        @precondition(lambda self: self.where("resolve"))
        @rule(pick=PICK, key=MOVE_KEYS, actor=ACTORS, body=bodies("resolve"))
        def resolve(self, pick: int, key: str, actor: str, body: Any) -> None:
            self.attempt_where_legal("resolve", pick, key, actor, body)

        @precondition(lambda self: self.where("approve"))
        @rule(pick=PICK, key=APPROVER_KEYS, actor=ACTORS, body=bodies("approve"))
        def approve(self, pick: int, key: str, actor: str, body: Any) -> None:
            self.attempt_where_legal("approve", pick, key, actor, body)

        @precondition(lambda self: self.where("approve"))
        @rule(
            pick=PICK,
            key=st.sampled_from(["supervisor", "manager", "admin"]),
            spelling=st.sampled_from(["as sent", "in capitals", "padded"]),
        )
        def approve_own_proposal(self, pick: int, key: str, spelling: str) -> None:
            """The proposer's own X-Actor, from any approving key: never their own approver."""
            candidates = self.where("approve")
            complaint = candidates[pick % len(candidates)]
            proposer = self.models[complaint].proposed_by or "handler-07"
            actor = {"as sent": proposer, "in capitals": proposer.upper(), "padded": f"  {proposer} "}[spelling]
            self.attempt(complaint, key, actor, "approve", {})

        @precondition(lambda self: self.where("send-back"))
        @rule(pick=PICK, key=MOVE_KEYS, actor=ACTORS, body=bodies("send-back"))
        def send_back(self, pick: int, key: str, actor: str, body: Any) -> None:
            self.attempt_where_legal("send-back", pick, key, actor, body)

        @precondition(lambda self: self.where("fulfil"))
        @rule(pick=PICK, key=MOVE_KEYS, actor=ACTORS, body=bodies("fulfil"))
        def fulfil(self, pick: int, key: str, actor: str, body: Any) -> None:
            self.attempt_where_legal("fulfil", pick, key, actor, body)

        @precondition(lambda self: self.where("call-attempt"))
        @rule(pick=PICK, key=MOVE_KEYS, actor=ACTORS, body=bodies("call-attempt"))
        def call_attempt(self, pick: int, key: str, actor: str, body: Any) -> None:
            self.attempt_where_legal("call-attempt", pick, key, actor, body)

        @precondition(lambda self: self.where("revisit"))
        @rule(pick=PICK, key=MOVE_KEYS, actor=ACTORS, body=bodies("revisit"))
        def revisit(self, pick: int, key: str, actor: str, body: Any) -> None:
            self.attempt_where_legal("revisit", pick, key, actor, body)

        @precondition(lambda self: self.where("reopen"))
        @rule(pick=PICK, key=MOVE_KEYS, actor=ACTORS, body=bodies("reopen"))
        def reopen(self, pick: int, key: str, actor: str, body: Any) -> None:
            self.attempt_where_legal("reopen", pick, key, actor, body)

        @rule(complaint=complaints, key=ALL_KEYS, actor=ACTORS, action=ACTIONS)
        def any_move(self, complaint: str, key: str, actor: str, action: tuple[str, Any]) -> None:
            path, body = action
            if path == "notes":
                self.add_note(complaint, key, actor, body)
            else:
                self.attempt(complaint, key, actor, path, body)

        def add_note(self, complaint: str, key: str, actor: str, body: Any) -> None:
            model, spec = self.models[complaint], KEYS[key]
            if not body_is_valid("notes", body):
                expected = Outcome(422)
            elif not model.visible_to(spec):
                expected = Outcome(404, "not-found")  # never 403 for a complaint the key may not see
            elif spec.role not in NOTE_ROLES:
                expected = Outcome(403, "forbidden")
            else:
                expected = Outcome(201)
            response = callers[key].as_actor(actor).post(f"/v1/complaints/{complaint}/notes", json=body)
            self.touched = complaint
            self.check_answer(response, expected, spec, model, f"notes by the {key} key with {body!r}")
            if expected.problem == "forbidden":
                assert set(response.json()["allowed_roles"]) == NOTE_ROLES, response.text
            if expected.status == 201:
                event = response.json()
                note = ("note", model.state, model.state, actor.strip())
                assert (event["move"], event["from_state"], event["to_state"], event["actor"]) == note
                model.version += 1
                model.events.append(note)
                model.sent.append(body)
                self.changed.add(complaint)

        @rule(
            complaint=complaints,
            key=ALL_KEYS,
            path=st.sampled_from([*MOVES, "notes"]),
            flaw=st.sampled_from(
                ["no key", "unknown key", "basic auth", "empty actor", "blank actor", "long actor", "unknown id"]
            ),
        )
        def bad_request(self, complaint: str, key: str, path: str, flaw: str) -> None:
            """Refused before any complaint is looked at: 401, 422 for the X-Actor, 404 for an unknown id."""
            caller, url = callers[key], f"/v1/complaints/{complaint}/{path}"
            expected = Outcome(422)
            if flaw in ("no key", "unknown key", "basic auth"):
                expected = Outcome(401, "unauthorized")
                authorization = {"unknown key": "Bearer tsk_not-one-we-issued", "basic auth": f"Basic {caller.key}"}
                headers = {"X-Actor": "handler-07"}
                if flaw in authorization:
                    headers["Authorization"] = authorization[flaw]
                response = client.post(url, json=PLAIN[path], headers=headers)
            elif flaw == "unknown id":
                expected = Outcome(404, "not-found")
                response = caller.post(f"/v1/complaints/{NOWHERE}/{path}", json=PLAIN[path])
                for read in (f"/v1/complaints/{NOWHERE}", f"/v1/complaints/{NOWHERE}/events"):
                    self.check_answer(caller.get(read), Outcome(404, "not-found"), KEYS[key], None, "read unknown")
            else:
                actor = {"empty actor": "", "blank actor": "   ", "long actor": "x" * 101}[flaw]
                response = caller.as_actor(actor).post(url, json=PLAIN[path])
            self.touched = complaint
            self.check_answer(response, expected, KEYS[key], None, f"{path} with {flaw}")

        # -- invariants --------------------------------------------------------------------------------------

        @invariant()
        def complaints_are_what_the_model_says(self) -> None:
            if not self.models:
                return
            # This example's complaints are the newest: one page lists them all.
            listed = handler.get("/v1/complaints", params={"limit": len(self.models)})
            assert listed.status_code == 200, listed.text
            items = {item["id"]: item for item in listed.json()["items"]}
            assert set(items) == set(self.models)
            for complaint, model in self.models.items():
                body = items[complaint]
                self.check_complaint_out(body, KEYS["handler"], model, f"complaint {complaint}")
                assert model.version == len(model.events), "the version rises by one per accepted request"
                if complaint not in self.changed:
                    assert stable(body) == stable(self.seen[complaint]), "a refused request changed the complaint"
                self.seen[complaint] = body

            for complaint in self.changed | ({self.touched} - {None}):
                model = self.models[complaint]
                read = handler.get(f"/v1/complaints/{complaint}/events")
                assert read.status_code == 200, read.text
                events = read.json()
                assert [e["id"] for e in events] == sorted({e["id"] for e in events}), "event ids rise"
                # Requests leave events with their key; tousu's own (an escalation, a clock) have none and move nothing.
                requested = [e for e in events if e["api_key_id"] is not None]
                for own in (e for e in events if e["api_key_id"] is None):
                    assert own["move"] not in REQUEST_EVENTS and own["from_state"] == own["to_state"], own
                history = [(e["move"], e["from_state"], e["to_state"], e["actor"]) for e in requested]
                assert history == model.events, "the history is not the register event and one per accepted request"
                for event, sent in zip(requested[1:], model.sent, strict=True):
                    recorded = {k for k, v in (sent or {}).items() if v is not None} | ALWAYS_RECORDED.get(
                        event["move"], set()
                    )
                    if event["move"] == "store-feedback":  # it names the one unit it is for: a store or a department
                        unit = set(event["payload"]) & {"store_id", "department"}
                        assert len(unit) == 1, event
                        recorded = (recorded - {"store_id", "department"}) | unit
                    assert set(event["payload"]) == recorded, (event, sent)
                if complaint not in self.changed:
                    assert events == self.seen_events[complaint], "a refused request changed the history"
                self.seen_events[complaint] = events

        @invariant()
        def every_key_is_offered_only_what_it_may_do_now(self) -> None:
            # allowed_moves depends on the state, the dispatched store and the key: only an accepted request moves it.
            for complaint in self.changed:
                model = self.models[complaint]
                legal = {name for name, spec in {**SPEC, "escalate": ESCALATE}.items() if model.state in spec.sources}
                for name, key in KEYS.items():
                    read = callers[name].get(f"/v1/complaints/{complaint}")
                    if not model.visible_to(key):
                        assert read.status_code == 404, (name, read.text)
                        continue
                    assert read.status_code == 200, (name, read.text)
                    offered = read.json()["allowed_moves"]
                    assert set(offered) <= legal, f"the {name} key is offered {offered} in state {model.state}"
                    assert offered == model.allowed_moves(key), (name, model.state, offered)
            self.changed.clear()
            self.touched = None

    return ComplaintLifecycle


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A walk sends hundreds of requests with a missing or unknown key from one address; the failure limiter (tested
    in tests/auth/test_failures.py) would answer them 429 after its burst."""
    return settings.model_copy(update={"auth_failure_burst": 1_000_000})


@pytest.fixture
def tally() -> Counter[str]:
    """How often each answer was seen (printed with ``-s``: what the walks reached)."""
    return Counter()


@pytest.fixture
def machine(client: Any, make_caller: Any, settings: Settings, tally: Counter[str]) -> type[RuleBasedStateMachine]:
    callers = {
        name: make_caller(key.role, store_id=key.store_id, department=key.department) for name, key in KEYS.items()
    }
    authority: dict[str, Decimal | None] = {
        "handler": settings.authority_handler,
        "supervisor": settings.authority_supervisor,
        "manager": settings.authority_manager,
        "admin": settings.authority_admin,
    }
    return lifecycle_machine(client, callers, authority, tally)


@pytest.mark.slow
def test_random_walks_through_the_lifecycle_keep_the_model(
    machine: type[RuleBasedStateMachine], tally: Counter[str]
) -> None:
    try:
        run_state_machine_as_test(machine, settings=MACHINE_SETTINGS)
    finally:
        print("\n".join(f"{count:5d}  {outcome}" for outcome, count in sorted(tally.items())))


def test_minimal_reproduction_a_move_sent_without_a_body(machine: type[RuleBasedStateMachine]) -> None:
    """The machine's shortest failing walk, as hypothesis printed it: a move whose body has required fields, sent
    with no body at all, is taken as valid; the move then fails on the missing body (500 where it is legal now, 409
    where it is not) instead of 422."""
    state: Any = machine()
    complaints_0 = state.first_complaint()
    state.complaints_are_what_the_model_says()
    state.every_key_is_offered_only_what_it_may_do_now()
    state.any_move(action=("reject", None), actor="handler-07", complaint=complaints_0, key="handler")
    state.teardown()
