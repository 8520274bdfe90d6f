"""Structured JSON logs: one line per request with its id, never a complainant's details.

The access line names the route template (``/v1/complaints/{complaint_id}``), never the query string or a
body, so a phone number typed into a search cannot reach the logs. ``X-Request-ID`` is taken from the caller when
it is a plain token, made up otherwise, and echoed on every response.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar
from time import perf_counter
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

access = logging.getLogger("tousu.access")


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record logged while it runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def config(level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the server: JSON lines on standard error; uvicorn's access log off."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "app.logs.RequestIdFilter"}},
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            }
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "json",
                "filters": ["request_id"],
            }
        },
        "loggers": {
            "tousu": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


class RequestContext:
    """ASGI middleware: request id in, request id out, one access line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = Headers(scope=scope).get("x-request-id")
        request_id = offered if offered and _VALID_ID.fullmatch(offered) else uuid.uuid4().hex
        # Not reset afterwards: the 500 handler runs after this middleware, in the same task, and logs with it.
        REQUEST_ID.set(request_id)
        started = perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            access.info(
                "request",
                extra={
                    "method": scope["method"],
                    "route": getattr(route, "path", None),
                    "status": status,
                    "duration_ms": round((perf_counter() - started) * 1000, 1),
                },
            )
