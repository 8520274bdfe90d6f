"""A background job run every so many seconds in a thread of its own (``tousu serve``, ``tousu worker``).

A failed run (the database may be down) is logged and tried again next time: the thread never dies of it.
"""

from __future__ import annotations

import logging
import threading
from typing import Generic, TypeVar

Result = TypeVar("Result")


class Periodic(Generic[Result]):
    """Runs ``work`` every ``interval`` seconds until stopped; ``once()`` runs it now, in the caller's thread."""

    name = "job"  # what the log says failed: "<name> failed; retrying in N s"

    def __init__(self, interval: float, log: logging.Logger) -> None:
        self.interval = interval
        self.log = log
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name=f"tousu-{self.name}", daemon=True)

    def work(self) -> Result:
        raise NotImplementedError

    def done(self, result: Result) -> None:
        """What to log of a run that went through."""

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def run(self) -> None:
        while not self._stop.is_set():
            self.once()
            self._stop.wait(self.interval)

    def once(self) -> Result | None:
        try:
            result = self.work()
        except Exception:  # the database may be down: try again next time, never die
            self.log.exception("%s failed; retrying in %s s", self.name, self.interval)
            return None
        self.done(result)
        return result
