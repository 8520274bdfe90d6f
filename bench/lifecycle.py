"""Full lifecycles against a running tousu: register, investigate, store-feedback, propose, approve, fulfil, revisit.

The bodies are those of tests/complaints/test_moves.py. ``concurrency`` asyncio tasks share one httpx client,
each running lifecycles back to back. The rate counts the moves (requests) answered inside the measured window,
divided by seven, so lifecycles cut by the window's edges count for the part inside it. Each lifecycle's customer
has a phone of their own: none is a repeat complaint.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

STEPS = 7
FEEDBACK = {"cause": "店员未按退货流程操作", "responsible_person": "李四", "responsibility": "staff_fault"}
REFUND = {
    "remedy": {"kind": "refund", "amount": "300.00", "description": "退还货款"},
    "reply": "非常抱歉，全额退款。",
    "reply_channel": "sms",
}
PAID = {"payment_reference": "WX-REFUND-4200001987"}
APPROVAL = {"reply": "非常抱歉，已为您全额退款300元。"}
REVISIT = {"satisfaction": "satisfied", "call_notes": "客户表示满意"}
STORE = "SZ-FT-012"


@dataclass(frozen=True)
class Keys:
    intake: str
    handler: str
    store: str
    supervisor: str


@dataclass
class Tally:
    started: float = 0.0
    until: float = 0.0
    moves: int = 0
    lifecycles: int = 0
    durations: list[float] = field(default_factory=list)

    def inside(self, at: float) -> bool:
        return self.started <= at <= self.until


def _headers(key: str, actor: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "X-Actor": quote(actor)}


def complaint_body(n: int) -> dict[str, Any]:
    return {
        "complainant": {"name": random.choice(["张三", "李四", "王芳", "刘洋"]), "phone": f"13{n % 10**9:09d}"},
        "channel": "phone",
        "category": "service_attitude",
        "store_id": STORE,
        "description": "店员态度恶劣，拒绝为我办理退货。",
        "customer_request": "要求店员道歉并办理退货",
    }


async def one_lifecycle(client: httpx.AsyncClient, keys: Keys, n: int, tally: Tally) -> None:
    intake = _headers(keys.intake, "agent-0042")
    handler = _headers(keys.handler, "handler-07")
    store = _headers(keys.store, "店长王五")
    supervisor = _headers(keys.supervisor, "supervisor-03")
    begun = time.perf_counter()

    async def post(path: str, headers: dict[str, str], body: Any, expect: int = 200) -> dict[str, Any]:
        response = await client.post(path, headers=headers, json=body)
        if response.status_code != expect:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:300]}")
        if tally.inside(time.perf_counter()):
            tally.moves += 1
        return response.json()

    complaint = await post("/v1/complaints", intake, complaint_body(n), expect=201)
    path = f"/v1/complaints/{complaint['id']}"
    await post(f"{path}/investigate", handler, {"store_id": STORE})
    await post(f"{path}/store-feedback", store, FEEDBACK)
    await post(f"{path}/propose", handler, REFUND)
    await post(f"{path}/approve", supervisor, APPROVAL)
    await post(f"{path}/fulfil", handler, PAID)
    final = await post(f"{path}/revisit", handler, REVISIT)
    if final["state"] != "revisited":
        raise RuntimeError(f"lifecycle ended in state {final['state']}")
    ended = time.perf_counter()
    if tally.inside(begun) and tally.inside(ended):
        tally.lifecycles += 1
        tally.durations.append(ended - begun)


async def _run(base_url: str, keys: Keys, concurrency: int, warmup: float, duration: float) -> Tally:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        now = time.perf_counter()
        tally = Tally(started=now + warmup, until=now + warmup + duration)
        counter = iter(range(10**9))

        async def worker() -> None:
            while time.perf_counter() < tally.until:
                await one_lifecycle(client, keys, next(counter), tally)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally


def run(base_url: str, keys: Keys, *, concurrency: int, warmup: float, duration: float) -> dict[str, float]:
    tally = asyncio.run(_run(base_url, keys, concurrency, warmup, duration))
    durations = sorted(tally.durations) or [0.0]
    return {
        "lifecycles_per_s": tally.moves / STEPS / duration,
        "moves_per_s": tally.moves / duration,
        "complete_lifecycles": tally.lifecycles,
        "p50_ms": durations[len(durations) // 2] * 1000,
        "p99_ms": durations[min(len(durations) - 1, int(len(durations) * 0.99))] * 1000,
    }
