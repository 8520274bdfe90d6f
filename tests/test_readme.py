"""The README and the pages in docs/ tell the truth about what the code does."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from app.complaints.workflow import mermaid
from app.config import Settings
from app.webhooks.schemas import PING, EventType
from tests.conftest import ROOT, Caller, LiveServer, issue_key

README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = ROOT / "docs"
# The order a reader follows: a page may use the variables of the pages before it (API, ADMIN, CRM, C, ...).
PAGES = ("integrators", "access", "clocks", "webhooks", "reports", "operations", "architecture")


def page(name: str) -> str:
    return (DOCS / f"{name}.md").read_text(encoding="utf-8")


def readme_diagram() -> str:
    block = re.search(r"<!-- workflow:start -->\n```mermaid\n(.*?)\n```\n<!-- workflow:end -->", README, re.S)
    assert block, "the README has no workflow diagram between its markers"
    return block.group(1)


def test_readme_diagram_is_the_workflow_diagram(admin: Caller) -> None:
    served = admin.get("/v1/workflow").json()["mermaid"]
    assert served == mermaid()
    assert readme_diagram() == served


def test_webhooks_page_lists_every_webhook_event_type() -> None:
    section = page("webhooks").split("## Event types", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `([a-z_.]+)`", section, re.M)) | set(
        re.findall(r"^\| `[a-z_.]+`, `([a-z_.]+)`", section, re.M)
    )
    assert rows == {*EventType, PING}


def test_operations_page_documents_every_setting() -> None:
    operations = page("operations")
    for name in Settings.model_fields:
        assert f"`TOUSU_{name.upper()}`" in operations, f"TOUSU_{name.upper()} is not in docs/operations.md"


def test_readme_is_a_front_door() -> None:
    assert len(README) < 12_000, f"the README has {len(README):,} characters"
    assert {path.stem for path in DOCS.glob("*.md")} == set(PAGES), "a page of docs/ is missing from PAGES"
    for link in ("SECURITY.md", "bench/RESULTS.md", *(f"docs/{name}.md" for name in PAGES)):
        assert f"]({link})" in README, f"the README does not link {link}"


def curl_blocks(text: str) -> list[str]:
    return [block for block in re.findall(r"^```sh\n(.*?)^```$", text, re.S | re.M) if "curl " in block]


# Every curl reports its status on standard error; a curl whose answer is an error says so in the text with a
# comment `# → 409` (the status), so the errors met must be exactly the errors announced, in order.
CURL_STATUS = "curl() { command curl -w '%{stderr}curl-status %{http_code}\\n' \"$@\"; }\n"


@pytest.fixture
def settings(database_url: str) -> Settings:
    # As `make run` serves: webhooks may name any host (TOUSU_WEBHOOK_ALLOW_PRIVATE=1); nothing is swept or sent.
    return Settings(
        database_url=database_url, sweep_in_serve=False, dispatch_in_serve=False, webhook_allow_private=True
    )


def test_every_curl_in_the_readme_and_docs_runs(live_server: LiveServer, tmp_path: Path) -> None:
    texts = [README, *(page(name) for name in PAGES)]
    blocks = [block for text in texts for block in curl_blocks(text)]
    assert len(curl_blocks(README)) == 1, "the README's first complaint is one block"
    script = "\n".join(blocks)
    assert "API=http://127.0.0.1:8000" in script and "ADMIN=tsk_..." in script
    script = script.replace("API=http://127.0.0.1:8000", f"API={live_server.url}").replace(
        "ADMIN=tsk_...", f"ADMIN={issue_key(live_server.settings, 'admin')}"
    )
    run = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + CURL_STATUS + script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    statuses = [int(status) for status in re.findall(r"^curl-status (\d{3})$", run.stderr, re.M)]
    assert len(statuses) >= script.count("curl "), run.stderr
    errors = [status for status in statuses if not 200 <= status < 300]
    assert errors == [int(status) for status in re.findall(r"# → (\d{3})", script)], run.stdout + run.stderr


def anchors(text: str) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces as dashes."""
    headings = re.findall(r"^#+ (.+)$", text, re.M)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_link_between_the_pages_arrives() -> None:
    for source in [ROOT / "README.md", *(DOCS / f"{name}.md" for name in PAGES)]:
        for target, anchor in re.findall(r"\]\(([^)#:]*)(?:#([^)]+))?\)", source.read_text(encoding="utf-8")):
            path = (source.parent / target).resolve() if target else source
            assert path.exists(), f"{source.name} links {target}, which does not exist"
            if anchor:
                assert anchor in anchors(path.read_text(encoding="utf-8")), f"{source.name} links {target}#{anchor}"
