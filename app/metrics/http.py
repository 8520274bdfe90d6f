"""ASGI middleware: every HTTP request counted by route template, method and status, and timed."""

from __future__ import annotations

from time import perf_counter

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.metrics.series import HTTP_DURATION, HTTP_REQUESTS

# A path no route matched: one label value for them all, whatever was asked for (bounded cardinality).
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        status = 500  # what the client gets when the app raises before it answers

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            route = template(scope)
            method = scope["method"] if scope["method"] in METHODS else "other"
            HTTP_REQUESTS.labels(route, method, str(status)).inc()
            HTTP_DURATION.labels(route, method).observe(perf_counter() - started)


def template(scope: Scope) -> str:
    """The matched route's path template, which the router put on the scope on its way in (the same dict): FastAPI's
    routes as ``route``, Starlette's own (the docs pages) by their ``endpoint`` alone, a mount (the docs' assets) by
    the application it mounts, as its prefix."""
    route = scope.get("route")
    if route is not None:
        return str(route.path)
    endpoint, router = scope.get("endpoint"), scope.get("router")
    if endpoint is not None and router is not None:
        for candidate in router.routes:
            if endpoint in (getattr(candidate, "endpoint", None), getattr(candidate, "app", None)):
                return str(candidate.path)
    return UNMATCHED
