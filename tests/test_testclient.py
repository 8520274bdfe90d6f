"""tests/testclient.py answers as Starlette's test client does: the same scope, the same request body, the same
response to the byte, and the same outcome when the app fails before or after it starts its response."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette import testclient as starlette
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from tests.testclient import TestClient


async def echo(request: Request) -> Response:
    scope = request.scope
    seen = {key: scope[key] for key in ("http_version", "method", "path", "root_path", "scheme", "client", "server")}
    seen |= {"raw_path": scope["raw_path"].decode(), "query_string": scope["query_string"].decode()}
    seen |= {"headers": [[key.decode(), value.decode()] for key, value in scope["headers"]]}
    seen |= {"body": (await request.body()).decode(), "extensions": sorted(scope["extensions"])}
    return JSONResponse(seen, headers={"x-seen": "yes"})


async def streamed(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for number in range(5):
            yield f"第{number}行\n".encode()

    return StreamingResponse(chunks(), media_type="text/plain; charset=utf-8")


async def fails(request: Request) -> Response:
    raise RuntimeError("before the response")


async def fails_midway(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"half", "more_body": True})
    raise RuntimeError("after the response started")


async def silent(scope: Scope, receive: Receive, send: Send) -> None:
    return None


async def sets_a_cookie(request: Request) -> Response:
    response = Response("ok")
    response.set_cookie("seen", request.cookies.get("seen", "0") + "1")
    return response


APP = Starlette(
    routes=[
        Route("/echo/{rest:path}", echo, methods=["GET", "POST", "PUT", "DELETE"]),
        Route("/streamed", streamed),
        Route("/fails", fails),
        Mount("/fails-midway", app=fails_midway),
        Mount("/silent", app=silent),
        Route("/cookie", sets_a_cookie),
    ]
)


@pytest.fixture(params=[True, False], ids=["raising", "not-raising"])
def clients(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any]]:
    with (
        starlette.TestClient(APP, raise_server_exceptions=request.param) as theirs,
        TestClient(APP, raise_server_exceptions=request.param) as ours,
    ):
        yield theirs, ours


def same(theirs: Any, ours: Any, method: str, path: str, **kwargs: Any) -> Any:
    expected, got = theirs.request(method, path, **kwargs), ours.request(method, path, **kwargs)
    assert (got.status_code, got.headers.multi_items(), got.content) == (
        expected.status_code,
        expected.headers.multi_items(),
        expected.content,
    )
    return got


def test_the_scope_and_the_body_are_starlettes(clients: tuple[Any, Any]) -> None:
    theirs, ours = clients
    answer = same(theirs, ours, "GET", "/echo/投诉/a%2Fb?phone=138%201234&x=1", headers={"X-Actor": "agent-0042"})
    assert json.loads(answer.content)["path"] == "/echo/投诉/a/b"
    answer = same(theirs, ours, "POST", "/echo/", json={"description": "店员态度恶劣"})
    assert json.loads(answer.content)["body"] == '{"description":"店员态度恶劣"}'
    upload = b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.pdf"\r\n\r\n%PDF-1.7\n\r\n--b--\r\n'
    same(theirs, ours, "PUT", "/echo/file", content=upload, headers={"Content-Type": "multipart/form-data; boundary=b"})
    same(theirs, ours, "DELETE", "/echo/x", content=b"")


def test_a_streamed_response_comes_whole(clients: tuple[Any, Any]) -> None:
    theirs, ours = clients
    assert same(theirs, ours, "GET", "/streamed").text == "".join(f"第{number}行\n" for number in range(5))


def test_cookies_are_kept_between_requests(clients: tuple[Any, Any]) -> None:
    theirs, ours = clients
    same(theirs, ours, "GET", "/cookie")
    assert same(theirs, ours, "GET", "/cookie").cookies["seen"] == "011"


def test_an_app_that_fails_fails_alike(clients: tuple[Any, Any]) -> None:
    theirs, ours = clients
    for path, failure in (("/fails", RuntimeError), ("/fails-midway", RuntimeError), ("/silent", AssertionError)):
        if theirs._transport.raise_server_exceptions:
            with pytest.raises(failure) as expected:
                theirs.get(path)
            with pytest.raises(failure) as got:
                ours.get(path)
            assert str(got.value) == str(expected.value)
        else:
            same(theirs, ours, "GET", path)
