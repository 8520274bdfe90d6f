"""Request bodies are JSON in UTF-8: any other media type, charset, encoding or content coding is 415.

Starlette's ``json.loads`` of the raw bytes would read UTF-16 and UTF-32 as well, and FastAPI hands a body whose
type is not JSON to validation as bytes; here such a body is refused before anything reads it. A route whose body
is a form (it declares ``Form`` or ``File`` fields: uploads) takes ``multipart/form-data`` and
``application/x-www-form-urlencoded`` instead.

The check runs when the route reads its body, so a route that takes none ignores whatever is sent, and an empty
body (a move whose body is optional) passes whatever its ``Content-Type`` says.
"""

from __future__ import annotations

from fastapi import params
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FORMS = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})
REFUSED = "The body is not JSON in UTF-8 (Content-Type: application/json)"
# A JSON text starts with an ASCII character: in UTF-16 or UTF-32 one of its first four bytes is 0 (RFC 4627 §3).
_SNIFFED = 4


class UnsupportedMediaType(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(415, detail)


def _parse(header: str) -> tuple[str, dict[str, str]]:
    media_type, _, rest = header.partition(";")
    parameters = {}
    for part in rest.split(";"):
        name, _, value = part.partition("=")
        parameters[name.strip().lower()] = value.strip().strip('"').lower()
    return media_type.strip().lower(), parameters


def _is_json(media_type: str) -> bool:
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def _takes_a_form(scope: Scope) -> bool:
    # Set by the router before the route reads its body.
    body_field = getattr(scope.get("route"), "body_field", None)
    return body_field is not None and isinstance(body_field.field_info, params.Form)


def refusal(scope: Scope, head: bytes) -> str | None:
    """Why a body starting with ``head`` may not be read, or None."""
    headers = Headers(scope=scope)
    if headers.get("content-encoding", "identity").strip().lower() != "identity":
        return "the body may not be compressed (Content-Encoding)"
    declared = headers.get("content-type")
    if declared is None:
        return "send the body with Content-Type: application/json"
    media_type, parameters = _parse(declared)
    if media_type in FORMS and _takes_a_form(scope):
        return None
    if not _is_json(media_type):
        return "the body must be JSON (Content-Type: application/json)"
    if parameters.get("charset", "utf-8") != "utf-8":
        return "the body must be UTF-8 (charset=utf-8, or no charset)"
    if head.startswith((b"\xfe\xff", b"\xff\xfe")) or b"\x00" in head[:_SNIFFED]:
        return "the body must be UTF-8, not UTF-16 or UTF-32"
    return None


class JsonBodies:
    """ASGI middleware: checks a body's first bytes and headers when the route first reads it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        checked = False

        async def checked_receive() -> Message:
            nonlocal checked
            message = await receive()
            if checked or message["type"] != "http.request":
                return message
            body, more = message.get("body", b""), message.get("more_body", False)
            while more and len(body) < _SNIFFED:
                message = await receive()
                if message["type"] != "http.request":
                    return message
                body, more = body + message.get("body", b""), message.get("more_body", False)
            checked = True
            problem = refusal(scope, body) if body else None
            if problem is not None:
                # An HTTPException: FastAPI passes it on from body parsing to the problem+json handler.
                raise UnsupportedMediaType(problem)
            return {"type": "http.request", "body": body, "more_body": more}

        await self.app(scope, checked_receive, send)
