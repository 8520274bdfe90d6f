"""The arrows between the domain packages point one way, checked by import-linter (its contracts are in
pyproject.toml, ``[tool.importlinter]``): reports, webhooks and health above complaints, complaints above sla,
sla above auth; and no other domain reaches into the complaints' repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the package ``app`` found in ``root``, with that root's contracts."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_domains_import_each_other_one_way_only() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # The cycle this issue broke: the SLA policy reading the complaint's model.
        ("app/sla/policy.py", "from app.complaints import models", "Domains are layered"),
        # An indirect one: sla → a shared module → complaints.
        ("app/sla/router.py", "from app import visibility", "Domains are layered"),
        ("app/auth/principal.py", "from app.webhooks import models", "Domains are layered"),
        ("app/reports/service.py", "from app.webhooks import service", "Domains are layered"),
        ("app/webhooks/outbox.py", "from app.complaints import repository", "not its repository"),
    ],
)
def test_an_import_against_the_arrows_breaks_a_contract(tmp_path: Path, module: str, line: str, broken: str) -> None:
    shutil.copytree(ROOT / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    source = tmp_path / module
    source.write_text(source.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")

    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 broken" in result.stdout, result.stdout
    assert broken in " ".join(result.stdout.split()), result.stdout
