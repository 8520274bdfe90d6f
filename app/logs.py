"""Logs: one line per request with its id, never a complainant's details.

JSON lines for machines (the default), or a console line for people (``TOUSU_LOG_FORMAT=console``, what
``make run`` sets); both carry the same fields.

The access line names the route template (``/v1/complaints/{complaint_id}``), never the query string or a
body, so a phone number typed into a search cannot reach the logs. ``X-Request-ID`` is taken from the caller when
it is a plain token, made up otherwise, and echoed on every response.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from time import perf_counter
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import LogFormat

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

access = logging.getLogger("tousu.access")


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record logged while it runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


# What every record has; the rest was passed as ``extra``. Uvicorn's ``color_message`` repeats the message.
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id", "color_message"}
_BARE = re.compile(r"[^\s\"'=]+")


def _console_value(value: object) -> str:
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    text = str(value)
    return text if _BARE.fullmatch(text) else json.dumps(text, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """A line per record for people: time, level, request id (``-`` outside a request), message, then the extra
    fields as ``key=value``, quoted when they hold a space. A traceback follows on the lines below."""

    def format(self, record: logging.LogRecord) -> str:
        when = f"{self.formatTime(record, '%H:%M:%S')}.{int(record.msecs):03d}"
        request_id = getattr(record, "request_id", None) or "-"
        line = " ".join(
            [
                f"{when} {record.levelname:<7} {request_id} {record.getMessage()}",
                *(f"{key}={_console_value(value)}" for key, value in vars(record).items() if key not in _RECORD_ATTRS),
            ]
        )
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


def config(level: str = "INFO", log_format: LogFormat = "json") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the server: records on standard error, JSON lines or console lines.

    Uvicorn's own access log is off: ours (``tousu.access``) leaves out query strings, which may hold phone numbers.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "app.logs.RequestIdFilter"}},
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            },
            "console": {"()": "app.logs.ConsoleFormatter"},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": log_format,
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
