"""The README tells the truth about what the code does."""

from __future__ import annotations

import re

from app.complaints.workflow import mermaid
from app.config import Settings
from app.webhooks.schemas import PING, EventType
from tests.conftest import ROOT, Caller

README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_diagram() -> str:
    block = re.search(r"<!-- workflow:start -->\n```mermaid\n(.*?)\n```\n<!-- workflow:end -->", README, re.S)
    assert block, "the README has no workflow diagram between its markers"
    return block.group(1)


def test_readme_diagram_is_the_workflow_diagram(admin: Caller) -> None:
    served = admin.get("/v1/workflow").json()["mermaid"]
    assert served == mermaid()
    assert readme_diagram() == served


def test_readme_lists_every_webhook_event_type() -> None:
    section = README.split("## Webhooks", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `([a-z_.]+)`", section, re.M)) | set(
        re.findall(r"^\| `[a-z_.]+`, `([a-z_.]+)`", section, re.M)
    )
    assert rows == {*EventType, PING}


def test_readme_documents_every_setting() -> None:
    for name in Settings.model_fields:
        assert f"`TOUSU_{name.upper()}`" in README, f"TOUSU_{name.upper()} is not in the README"
