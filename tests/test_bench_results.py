"""bench/RESULTS.md keeps every run, latest first: a new run goes on top, its benchmarks' sections into it."""

from __future__ import annotations

from pathlib import Path

from bench.results import TITLE, add_to_latest_run, start_run
from tests.conftest import ROOT


def test_a_new_run_goes_first_and_its_sections_into_it(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    start_run(results, "## 2026-11-23 17:26 UTC: make bench\n\nolder")
    add_to_latest_run(results, "### Sweep (2026-11-23)\n\nolder sweep")
    start_run(results, "## 2026-12-02 10:40 UTC: make bench\n\nnewer")
    add_to_latest_run(results, "### Sweep (2026-12-02)\n\nnewer sweep")
    add_to_latest_run(results, "### Webhooks (2026-12-02)\n\nnewer webhooks")

    text = results.read_text()
    assert text.startswith(TITLE)
    order = [
        "## 2026-12-02 10:40 UTC",
        "### Sweep (2026-12-02)",
        "### Webhooks (2026-12-02)",
        "## 2026-11-23 17:26 UTC",
        "### Sweep (2026-11-23)",
    ]
    assert [text.index(heading) for heading in order] == sorted(text.index(heading) for heading in order)


def test_the_committed_results_are_latest_first() -> None:
    text = (ROOT / "bench" / "RESULTS.md").read_text(encoding="utf-8")
    assert text.startswith(TITLE)
    runs = [line[3:19] for line in text.splitlines() if line.startswith("## ")]
    assert runs == sorted(runs, reverse=True), runs
