"""Webhook fixtures: a real HTTP receiver on loopback that records what it gets and verifies the signatures."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from app.config import Settings
from app.db import Database
from app.webhooks.dispatcher import Dispatcher
from tests.conftest import Caller, app_settings


@pytest.fixture
def settings(database_url: str, attachment_folder: str) -> Settings:
    # The receivers listen on loopback: private targets allowed here; tests of the refusal turn it off.
    return app_settings(database_url, attachment_folder, webhook_allow_private=True, webhook_timeout_seconds=5)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified_with: list[str]  # the secrets whose signature checked out

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0


class Receiver:
    """A threaded HTTP server: answers each POST with the next scripted reply (or the default) and records it."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.replies: deque[Reply] = deque()
        self.default = Reply(200, body="已收到".encode())
        self.secrets: list[str] = []
        self.rule: Callable[[dict[str, Any]], Reply | None] = lambda message: None  # a reply chosen by content
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = receiver.rule(json.loads(body) if body else {})
                if reply is None:
                    reply = receiver.replies.popleft() if receiver.replies else receiver.default
                with receiver.arrived:
                    receiver.received.append(Received(self.path, headers, body, receiver.verify(body, headers)))
                    receiver.arrived.notify_all()
                time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:  # the client gave up (timeout) or was killed
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # Stopped within 20 ms of close(), not the half second serve_forever looks for a stop by default (some 40 s
        # of a run's teardowns).
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def verify(self, body: bytes, headers: dict[str, str]) -> list[str]:
        verified = []
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            verified.append(secret)
        return verified

    def reply(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.received) >= count, timeout), self.received
        return self.received

    def types(self) -> list[str]:
        return [r.json()["type"] for r in self.received]

    def by_complaint(self) -> dict[str, list[str]]:
        """Each complaint's event types, in the order they arrived."""
        arrived: dict[str, list[str]] = {}
        for message in (r.json() for r in self.received):
            arrived.setdefault(message["data"]["complaint"]["id"], []).append(message["type"])
        return arrived

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        """The messages of this type, in the order they arrived."""
        return [r.json() for r in self.received if r.json()["type"] == event_type]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def make_receiver() -> Iterator[Callable[[], Receiver]]:
    """More receivers, for tests with several subscribers; all closed at the end."""
    made: list[Receiver] = []

    def make() -> Receiver:
        made.append(Receiver())
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def receiver(make_receiver: Callable[[], Receiver]) -> Receiver:
    return make_receiver()


@pytest.fixture
def dispatcher(db: Database, settings: Settings) -> Iterator[Dispatcher]:
    dispatcher = Dispatcher(db, settings)
    yield dispatcher
    dispatcher.stop()


def subscribe(admin: Caller, receiver: Receiver, **fields: Any) -> dict[str, Any]:
    """An endpoint for the receiver; the receiver learns its secret."""
    response = admin.post("/v1/webhook-endpoints", json={"url": receiver.url, **fields})
    assert response.status_code == 201, response.text
    endpoint = response.json()
    receiver.secrets.append(endpoint["secret"])
    return endpoint


def patch(caller: Caller, path: str, json: Any) -> Any:
    return caller.client.patch(path, json=json, headers=caller.headers())


def deliveries(admin: Caller, endpoint: dict[str, Any], **query: Any) -> list[dict[str, Any]]:
    response = admin.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", params=query)
    assert response.status_code == 200, response.text
    return response.json()["items"]
