"""bench/RESULTS.md keeps every run, latest first.

The file is a title, then one level-2 section per run (``## 2026-12-02 10:40 UTC: make bench``). ``make bench``
puts its new run at the top (``bench.run``); the sweep, report and webhook benchmarks add their level-3 sections to
the end of that latest run (``--append``).
"""

from __future__ import annotations

from pathlib import Path

TITLE = (
    "# tousu benchmark results\n\n"
    "Every run, latest first, each with its machine and date. bench/README.md says how each figure is measured and "
    "what it means; `make bench` adds a run at the top. Compare figures within one run: the machine is shared and "
    "its speed varies from run to run.\n"
)
RUN = "\n## "


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else TITLE


def start_run(path: Path, run: str) -> None:
    """Put ``run`` (a ``## `` section) first, above the earlier runs."""
    text = _read(path)
    first = text.find(RUN)
    head, earlier = (text, "") if first < 0 else (text[: first + 1], text[first + 1 :])
    path.write_text(head.rstrip("\n") + "\n\n" + run.strip("\n") + "\n" + (f"\n{earlier}" if earlier else ""))


def add_to_latest_run(path: Path, section: str) -> None:
    """Add ``section`` (a ``### `` section) at the end of the latest run."""
    text = _read(path)
    first = text.find(RUN)
    end = len(text) if first < 0 else text.find(RUN, first + 1)
    end = len(text) if end < 0 else end
    path.write_text(text[:end].rstrip("\n") + "\n\n" + section.strip("\n") + "\n" + text[end:])
