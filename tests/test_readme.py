"""The README and the pages in docs/ tell the truth about what the code does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.complaints.workflow import mermaid
from app.config import Settings
from app.webhooks.schemas import PING, EventType
from tests.conftest import ROOT, Caller, LiveServer, issue_key

README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = ROOT / "docs"
# The order a reader follows: a page may use the variables of the pages before it (API, ADMIN, CRM, C, ...).
PAGES = ("integrators", "access", "clocks", "escalation", "webhooks", "reports", "operations", "architecture")
# Pages also in another language, docs/<language>/<name>.md: the same headings, commands, code, tables and links.
TRANSLATIONS = {"zh-CN": ("integrators",)}
TRANSLATED = [DOCS / language / f"{name}.md" for language, names in TRANSLATIONS.items() for name in names]


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
    assert set(DOCS.glob("*/*.md")) == set(TRANSLATED), "a translated page is missing from TRANSLATIONS"
    translated = (path.relative_to(ROOT).as_posix() for path in TRANSLATED)
    for link in ("SECURITY.md", "bench/RESULTS.md", *(f"docs/{name}.md" for name in PAGES), *translated):
        assert f"]({link})" in README, f"the README does not link {link}"


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```$", text, re.S | re.M)


def curl_blocks(text: str) -> list[str]:
    return [block for block in sh_blocks(text) if "curl " in block]


# Every curl reports its status on standard error; a curl whose answer is an error says so in the text with a
# comment `# → 409` (the status), so the errors met must be exactly the errors announced, in order.
CURL_STATUS = "curl() { command curl -w '%{stderr}curl-status %{http_code}\\n' \"$@\"; }\n"


@pytest.fixture
def chain_directory() -> None:
    """None of the tests' directory (tests/conftest.py): the walkthroughs put the units they dispatch to."""


@pytest.fixture
def settings(database_url: str, attachment_folder: str) -> Settings:
    # As `make run` serves: webhooks may name any host (TOUSU_WEBHOOK_ALLOW_PRIVATE=1); nothing is swept or sent.
    return Settings(
        database_url=database_url,
        sweep_in_serve=False,
        dispatch_in_serve=False,
        webhook_allow_private=True,
        attachment_store=attachment_folder,
    )


def test_every_curl_in_the_readme_and_docs_runs(live_server: LiveServer, tmp_path: Path) -> None:
    assert len(curl_blocks(README)) == 1, "the README's first complaint is one block"
    run_curls([README, *(page(name) for name in PAGES)], live_server, tmp_path)


@pytest.mark.parametrize("translated", TRANSLATED, ids=lambda path: path.relative_to(DOCS).as_posix())
def test_every_curl_of_a_translated_page_runs(translated: Path, live_server: LiveServer, tmp_path: Path) -> None:
    """Its commands are the English page's (test_translated_pages_mirror_the_english_ones); its comments were
    translated, and a broken quote among them would break the commands after it."""
    run_curls([README, translated.read_text(encoding="utf-8")], live_server, tmp_path)


def python3(tmp_path: Path) -> Path:
    """A folder whose ``python3`` is this run's interpreter itself, for the texts' ``python3 -c`` (some 90 of them).

    The ``python3`` found on PATH may be a version manager's shim (pyenv's is a bash script that starts several more
    processes): at some 0.2 s each, the shims took most of the test's time.
    """
    folder = tmp_path / "python3-bin"
    folder.mkdir()
    (folder / "python3").symlink_to(os.path.realpath(sys.executable))
    return folder


def run_curls(texts: list[str], live_server: LiveServer, tmp_path: Path) -> None:
    """The texts' curl blocks, one script in the order given, against the live server: every curl answers as the
    text announces."""
    blocks = [block for text in texts for block in curl_blocks(text)]
    script = "\n".join(blocks)
    assert "API=http://127.0.0.1:8000" in script and "ADMIN=tsk_..." in script
    script = script.replace("API=http://127.0.0.1:8000", f"API={live_server.url}").replace(
        "ADMIN=tsk_...", f"ADMIN={issue_key(live_server.settings, 'admin')}"
    )
    run = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + CURL_STATUS + script],
        cwd=tmp_path,
        env={**os.environ, "PATH": f"{python3(tmp_path)}{os.pathsep}{os.environ['PATH']}"},
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


def links(source: Path) -> set[tuple[Path, str]]:
    """Where the page's links lead (the file and the anchor), wherever the page itself is."""
    found = re.findall(r"\]\(([^)#:]*)(?:#([^)]+))?\)", source.read_text(encoding="utf-8"))
    return {((source.parent / target).resolve() if target else source, anchor) for target, anchor in found}


def test_every_link_between_the_pages_arrives() -> None:
    for source in [ROOT / "README.md", *(DOCS / f"{name}.md" for name in PAGES), *TRANSLATED]:
        for path, anchor in links(source):
            assert path.exists(), f"{source.name} links {path}, which does not exist"
            if anchor:
                assert anchor in anchors(path.read_text(encoding="utf-8")), f"{source.name} links {path}#{anchor}"


def commands(text: str) -> list[str]:
    """The lines of the shell blocks without their comments, but with the statuses they announce (`# → 409`)."""
    lines = []
    for block in sh_blocks(text):
        for line in block.splitlines():
            line = re.sub(r"#\s*→\s*(\d{3}).*$", r"# → \1", line)
            line = re.sub(r"(^|\s)#(?! → \d{3}$).*$", "", line).rstrip()
            if line:
                lines.append(line)
    return lines


@pytest.mark.parametrize("translated", TRANSLATED, ids=lambda path: path.relative_to(DOCS).as_posix())
def test_translated_pages_mirror_the_english_ones(translated: Path) -> None:
    english = DOCS / translated.name
    text, original = translated.read_text(encoding="utf-8"), english.read_text(encoding="utf-8")
    stale = f"{translated.relative_to(ROOT)} no longer follows {english.relative_to(ROOT)}: translate the change"
    assert re.findall(r"^(#+) ", text, re.M) == re.findall(r"^(#+) ", original, re.M), stale + " (headings)"
    assert commands(text) == commands(original), stale + " (commands)"
    assert len(re.findall(r"^\|", text, re.M)) == len(re.findall(r"^\|", original, re.M)), stale + " (table rows)"
    assert set(re.findall(r"`[^`\n]+`", text)) == set(re.findall(r"`[^`\n]+`", original)), stale + " (code)"
    pair = {(english.resolve(), ""), (translated.resolve(), "")}
    assert links(translated) - pair == links(english) - pair, stale + " (links)"
