"""Webhooks go to https on public addresses only: refused at registration and again when connecting."""

from __future__ import annotations

import ipaddress

import httpcore
import pytest

from app.config import Settings
from app.db import Database
from app.webhooks import urls
from app.webhooks.dispatcher import Dispatcher
from tests.conftest import Caller
from tests.webhooks.conftest import Receiver, Reply, deliveries, subscribe

NOT_PUBLIC = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # the cloud metadata service
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "::1",
    "::",
    "fe80::1",
    "fd00::1",  # unique local
    "fec0::1",  # site-local (deprecated, RFC 3879)
    "feff::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",  # NAT64 of the metadata address
    "2002:7f00:1::",  # 6to4 of loopback
]
PUBLIC = ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_non_public_addresses_are_not_public(address: str) -> None:
    assert not urls.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_public(address: str) -> None:
    assert urls.is_public(ipaddress.ip_address(address))


def dispatch_once(db: Database, settings: Settings) -> None:
    dispatcher = Dispatcher(db, settings)
    try:
        dispatcher.once()
    finally:
        dispatcher.stop()


@pytest.fixture
def strict(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhook_allow_private": False})


@pytest.fixture
def strict_admin(client, strict: Settings, admin: Caller) -> Caller:
    client.app.state.settings = strict
    return admin


@pytest.mark.parametrize(
    "url",
    [
        "https://localhost/hooks",
        "https://127.0.0.1/hooks",
        "https://10.0.0.7/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://[fec0::1]/hooks",
        "https://100.64.0.1/hooks",
        "http://93.184.215.14/hooks",  # public, but not https
        "https://user:pw@93.184.215.14/hooks",
        "https://no-such-host.invalid/hooks",
        "ftp://93.184.215.14/hooks",
    ],
)
def test_registration_refuses_targets_that_are_not_https_and_public(strict_admin: Caller, url: str) -> None:
    response = strict_admin.post("/v1/webhook-endpoints", json={"url": url})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "url"
    assert strict_admin.get("/v1/webhook-endpoints").json() == []


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1\n.example.com/x",
        "https://127.0.0.1\r\n.example.com/x",
        "https://127.0.0.1\t.example.com/x",
        "https://hooks.example.com/x y",
        "https://hooks.example.com\u3000/x",  # ideographic space
        "https://hooks\u200b.example.com/x",  # zero-width space
        "https://hooks.example.com/\x7f",
        "https://hooks.example.com/\x85x",  # next line (C1)
        "https://hooks.example.com/%zz",  # a broken escape
        "https://hooks.例子.com/x",  # to be written xn--fsqu00a
    ],
)
@pytest.mark.parametrize("allow_private", [False, True])
def test_a_url_with_characters_a_uri_may_not_carry_is_refused_before_any_lookup(
    client, settings: Settings, admin: Caller, monkeypatch: pytest.MonkeyPatch, url: str, allow_private: bool
) -> None:
    lookups = []
    monkeypatch.setattr(urls.socket, "getaddrinfo", lambda *args, **kwargs: lookups.append(args) or [])
    client.app.state.settings = settings.model_copy(update={"webhook_allow_private": allow_private})
    response = admin.post("/v1/webhook-endpoints", json={"url": url})
    assert response.status_code == 422, response.text
    problem = response.json()  # refused by the schema (controls in any text) or by urls.check_url
    assert problem.get("field") == "url" or ["body", "url"] in [error["loc"] for error in problem["errors"]]
    assert lookups == []
    assert admin.get("/v1/webhook-endpoints").json() == []


def test_a_site_local_address_is_refused_at_connect_time() -> None:
    with pytest.raises(httpcore.ConnectError, match="fec0::1, which is not a public address"):
        urls.PublicOnlyBackend().connect_tcp("fec0::1", 443, timeout=1)


def test_registration_accepts_a_public_https_target(strict_admin: Caller) -> None:
    response = strict_admin.post("/v1/webhook-endpoints", json={"url": "https://93.184.215.14/hooks"})
    assert response.status_code == 201, response.text


def test_changing_the_url_is_checked_too(strict_admin: Caller) -> None:
    endpoint = strict_admin.post("/v1/webhook-endpoints", json={"url": "https://93.184.215.14/hooks"}).json()
    response = strict_admin.client.patch(
        f"/v1/webhook-endpoints/{endpoint['id']}", json={"url": "https://127.0.0.1/"}, headers=strict_admin.headers()
    )
    assert response.status_code == 422, response.text


def test_a_name_that_resolves_to_loopback_is_refused_at_connect_time(
    admin: Caller, handler: Caller, receiver: Receiver, db: Database, strict: Settings
) -> None:
    """Registered while private targets were allowed (or DNS changed since): the dispatcher still refuses."""
    endpoint = subscribe(admin, receiver)
    port = receiver.url.split(":")[2].split("/")[0]
    admin.client.patch(
        f"/v1/webhook-endpoints/{endpoint['id']}",
        json={"url": f"https://localhost:{port}/hooks"},
        headers=admin.headers(),
    )
    handler.register()
    dispatch_once(db, strict)

    assert receiver.received == []
    (delivery,) = deliveries(admin, endpoint)
    (attempt,) = delivery["attempts"]
    assert attempt["status_code"] is None
    assert "localhost resolves to" in attempt["error"] and "not a public address" in attempt["error"]
    assert delivery["status"] == "pending"


def test_an_http_url_allowed_once_is_refused_when_private_targets_no_longer_are(
    admin: Caller, handler: Caller, receiver: Receiver, db: Database, strict: Settings
) -> None:
    endpoint = subscribe(admin, receiver)  # http on loopback, registered while allowed
    handler.register()
    dispatch_once(db, strict)

    assert receiver.received == []
    (attempt,) = deliveries(admin, endpoint)[0]["attempts"]
    assert attempt["status_code"] is None and attempt["error"] == "UnsupportedProtocol: the URL must be https"


def test_a_name_that_resolves_elsewhere_after_registration_is_refused_at_connect_time(
    strict_admin: Caller, handler: Caller, db: Database, strict: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: public when registered, loopback when the delivery connects."""
    answers = {"hooks.example.com": ["93.184.215.14"]}
    monkeypatch.setattr(urls, "resolve", lambda host, port: answers[host])
    created = strict_admin.post("/v1/webhook-endpoints", json={"url": "https://hooks.example.com/tousu"})
    assert created.status_code == 201, created.text
    answers["hooks.example.com"] = ["93.184.215.14", "127.0.0.1"]
    handler.register()
    dispatch_once(db, strict)

    (attempt,) = deliveries(strict_admin, created.json())[0]["attempts"]
    assert attempt["error"] == "ConnectError: hooks.example.com resolves to 127.0.0.1, which is not a public address"


def test_redirects_are_not_followed(admin: Caller, handler: Caller, receiver: Receiver, dispatcher: Dispatcher) -> None:
    endpoint = subscribe(admin, receiver)
    receiver.reply(Reply(307, headers={"Location": receiver.url.replace("/hooks", "/elsewhere")}))
    handler.register()
    dispatcher.once()

    assert [r.path for r in receiver.received] == ["/hooks"]  # followed, the receiver would see /elsewhere too
    (delivery,) = deliveries(admin, endpoint)
    assert delivery["attempts"][0]["status_code"] == 307 and delivery["status"] == "pending"
