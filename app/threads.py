"""Blocking work (the database) off the event loop."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def in_thread(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` on the event loop's default thread pool, in the caller's context (its request id).

    Lighter than Starlette's ``run_in_threadpool`` (anyio's capacity limiter and cancel scope on every call), for
    a hot path that hands its whole transaction to one thread.
    """
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(None, context.run, function, *args)
