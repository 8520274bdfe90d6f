"""Starlette's test client, with each HTTP request handed to the app's event loop in one call.

Starlette's transport runs a request as some eight calls from the test's thread into the loop's (events, a memory
stream, a cancel scope, the app's task, each chunk of the body): 1.4 to 1.6 ms of CPU a request to a bare app,
more than tousu spends reading a complaint. Here the loop's thread runs the whole exchange (the app, the request's
body, the response collected to its last byte) and the test's thread waits once: 0.4 to 0.5 ms (2026-12-06). Same
scope, same ASGI messages, the same answer when the app fails: raised with ``raise_server_exceptions``, else a 500
if nothing was sent, or what was sent. WebSocket requests take Starlette's way. tests/test_testclient.py holds it
to Starlette's answers.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote

import httpx2
from starlette import testclient
from starlette.types import ASGIApp, Message

__all__ = ["TestClient"]


class _Transport(httpx2.BaseTransport):
    """Starlette's transport's settings (its portal, app, root path, client address and state), our HTTP."""

    def __init__(self, starlettes: testclient._TestClientTransport) -> None:
        self.starlettes = starlettes

    def close(self) -> None:
        self.starlettes.close()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        starlettes = self.starlettes
        if request.url.scheme not in ("http", "https"):
            return starlettes.handle_request(request)
        with starlettes.portal_factory() as portal:
            exchange = portal.call(_Exchange(starlettes.app, self._scope(request), request.read()).run)
        if exchange.failure is not None and starlettes.raise_server_exceptions:
            raise exchange.failure
        if exchange.status is None:
            if starlettes.raise_server_exceptions:
                raise AssertionError("TestClient did not receive any response.")
            return httpx2.Response(500, headers=[], stream=httpx2.ByteStream(b""), request=request)
        # A stream, not content: httpx would add a Content-Length the app did not send.
        body = httpx2.ByteStream(b"".join(exchange.body))
        response = httpx2.Response(exchange.status, headers=exchange.headers, stream=body, request=request)
        if exchange.trailers_expected:
            response.extensions["http.response.trailers"] = exchange.trailers
        if exchange.debug is not None:
            response.extensions["http.response.debug"] = exchange.debug
        return response

    def _scope(self, request: httpx2.Request) -> dict[str, Any]:
        """The scope Starlette's transport gives an HTTP request."""
        url, starlettes = request.url, self.starlettes
        port = url.port or {"http": 80, "https": 443}[url.scheme]
        headers = [] if "host" in request.headers else [(b"host", url.netloc)]
        headers += [(key.lower().encode(), value.encode()) for key, value in request.headers.multi_items()]
        return {
            "type": "http",
            "http_version": "1.1",
            "method": request.method,
            "path": unquote(url.path),
            "raw_path": url.raw_path.split(b"?", 1)[0],
            "root_path": starlettes.root_path,
            "scheme": url.scheme,
            "query_string": url.query,
            "headers": headers,
            "client": starlettes.client,
            "server": [url.raw_host.decode("ascii"), port],
            "extensions": {"http.response.debug": {}, "http.response.trailers": {}},
            "state": starlettes.app_state.copy(),
        }


class _Exchange:
    """One request and its response, run on the app's event loop."""

    def __init__(self, app: ASGIApp, scope: dict[str, Any], body: bytes) -> None:
        self.app, self.scope, self.request_body = app, scope, body
        self.request_sent = False
        self.status: int | None = None
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.trailers: list[tuple[bytes, bytes]] = []
        self.trailers_expected = False
        self.debug: dict[str, Any] | None = None
        self.failure: BaseException | None = None

    async def run(self) -> _Exchange:
        self.complete = asyncio.Event()
        try:
            await self.app(self.scope, self.receive, self.send)
        except Exception as failure:
            self.failure = failure
        finally:
            self.complete.set()
        return self

    async def receive(self) -> Message:
        if self.request_sent:  # the app listens for the client's going: it goes once it has the whole response
            await self.complete.wait()
            return {"type": "http.disconnect"}
        self.request_sent = True
        return {"type": "http.request", "body": self.request_body}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            assert self.status is None, 'Received multiple "http.response.start" messages.'
            self.status = message["status"]
            self.headers = [(key.decode(), value.decode()) for key, value in message.get("headers", [])]
            self.trailers_expected = message.get("trailers", False)
        elif kind == "http.response.body":
            assert self.status is not None, 'Received "http.response.body" without "http.response.start".'
            assert not self.complete.is_set(), 'Received "http.response.body" after response completed.'
            self.body.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False) and not self.trailers_expected:
                self.complete.set()
        elif kind == "http.response.trailers":
            self.trailers.extend(message.get("headers", []))
            if not message.get("more_trailers", False):
                self.complete.set()
        elif kind == "http.response.debug":
            self.debug = message["info"]


class TestClient(testclient.TestClient):
    __test__ = False

    def __init__(self, app: ASGIApp, *args: Any, **kwargs: Any) -> None:
        super().__init__(app, *args, **kwargs)
        assert isinstance(self._transport, testclient._TestClientTransport)
        self._transport = _Transport(self._transport)
