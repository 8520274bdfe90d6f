"""The largest request body the service reads (``TOUSU_MAX_BODY_BYTES``); beyond it, 413 as problem+json.

A declared ``Content-Length`` over the limit is refused before anything is read; a body sent without one is
counted as it arrives and refused the moment it passes the limit.

An upload (a ``multipart/form-data`` POST to a path of ``uploads``) has that path's limit instead: the attachment
limit and room for the form's own lines. The route then holds the file itself to the attachment limit.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import problem_response

# The rest of the body is not read: the connection is closed after the answer, so that the server does not go on
# receiving (and throwing away) what the client still sends.
CLOSE = {"Connection": "close"}


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes", headers=CLOSE)


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, uploads: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Path templates (``/v1/complaints/{complaint_id}/attachments``) as patterns, each with its limit.
        self.uploads = [
            (re.compile("^" + re.sub(r"\\{[^/]+\\}", "[^/]+", re.escape(path)) + "$"), limit)
            for path, limit in (uploads or {}).items()
        ]

    def limit(self, scope: Scope) -> int:
        if scope["method"] == "POST" and self.uploads:
            media_type = Headers(scope=scope).get("content-type", "").partition(";")[0].strip().lower()
            if media_type == "multipart/form-data":
                for pattern, limit in self.uploads:
                    if pattern.match(scope["path"]):
                        return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit(scope)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            response = problem_response(
                413, "Content Too Large", detail=f"the request body is larger than {max_bytes} bytes"
            )
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    # An HTTPException: FastAPI passes it on from body parsing to the problem+json handler.
                    raise BodyTooLarge(max_bytes)
            return message

        await self.app(scope, counting_receive, send)
