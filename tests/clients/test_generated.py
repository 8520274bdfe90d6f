"""Clients generated from the committed OpenAPI document, as an integrator makes them: with zero warnings, a
Python client that walks a complaint's lifecycle typed, and a TypeScript file that compiles against the types.

The generators are pinned: openapi-python-client in the dev extras, openapi-typescript and typescript in
clients/package.json (``make test`` runs ``npm ci`` there). The commands are those of docs/integrators.md.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import subprocess
import sys
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from app.auth.models import Role
from tests.conftest import ROOT, LiveServer, complaint_body, issue_key

DOCUMENT = ROOT / "openapi" / "openapi.json"
GUIDE = ROOT / "docs" / "integrators.md"
CLIENTS = ROOT / "clients"
NODE_BIN = CLIENTS / "node_modules" / ".bin"
VENV_BIN = Path(sys.executable).parent
# Any line of a generator's output that speaks of a problem. openapi-python-client prints "Warning(s)
# encountered", "Unable to parse" and "Skipping" for what it leaves out, openapi-typescript "⚠" or "warn".
TROUBLE = re.compile(r"warn|error|unable|skipping|could not|unsupported|⚠", re.IGNORECASE)


def run(command: list[str], cwd: Path) -> list[str]:
    # The venv first on PATH: openapi-python-client formats what it writes with ruff, found there.
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1"}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    output = (done.stdout + done.stderr).splitlines()
    assert done.returncode == 0, "\n".join(output)
    return output


def documented(program: str) -> list[str]:
    """The guide's command line that runs ``program`` (its "Generate a client"), as arguments: the test runs what
    the guide says. The repository's files become absolute paths; what is written goes to the current folder."""
    lines = GUIDE.read_text(encoding="utf-8").splitlines()
    (line,) = [line for line in lines if line.removeprefix("npx ").startswith(program + " ")]
    arguments = shlex.split(line.removeprefix("npx "))
    return [str(ROOT / argument) if (ROOT / argument).is_file() else argument for argument in arguments[1:]]


def test_the_guide_pins_the_versions_the_tests_use() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    package = json.loads((CLIENTS / "package.json").read_text(encoding="utf-8"))["devDependencies"]
    assert f"npm install --save-dev openapi-typescript@{package['openapi-typescript']} typescript@" in guide
    assert f"typescript@{package['typescript']}\n" in guide
    pinned = re.search(r'"openapi-python-client==([0-9.]+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pinned is not None
    assert f"pip install openapi-python-client=={pinned[1]}" in guide


def node_tool(name: str) -> Path:
    tool = NODE_BIN / name
    if not tool.exists():
        message = f"{tool} is missing: run `make test` (it runs `npm ci --prefix clients`)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return tool


@pytest.fixture(scope="module")
def python_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModuleType, list[str]]]:
    """The generated package ``tousu_client`` and what the generator printed."""
    folder = tmp_path_factory.mktemp("python-client")
    output = run([str(VENV_BIN / "openapi-python-client"), *documented("openapi-python-client")], cwd=folder)
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("tousu_client"), output
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name == "tousu_client" or name.startswith("tousu_client.")]:
            del sys.modules[name]


def test_the_python_generator_warns_of_nothing(python_client: tuple[ModuleType, list[str]]) -> None:
    _, output = python_client
    assert [line for line in output if TROUBLE.search(line)] == []


def typescript_types(folder: Path) -> list[str]:
    """Generate ``tousu.d.ts`` in ``folder``; what the generator printed. A property with a default is optional
    (``--default-non-nullable false``): the same schemas describe request bodies, where it may be left out."""
    return run([str(node_tool("openapi-typescript")), *documented("openapi-typescript")], cwd=folder)


def compile_typescript(folder: Path, *sources: str) -> subprocess.CompletedProcess[str]:
    options = ["--strict", "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext"]
    command = [str(node_tool("tsc")), "--noEmit", *options, "--lib", "es2022,dom", *sources]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=300, check=False)


WALK = Path(__file__).with_name("walk.ts")


@dataclass
class TypeScript:
    generated: list[str]  # what the generator printed
    diagnostics: list[str]  # what the compiler printed, a line per diagnostic: "file(line,column): error TS..."


@pytest.fixture(scope="module")
def typescript(tmp_path_factory: pytest.TempPathFactory) -> TypeScript:
    """The types generated once, then one compiler run over the typed walk and a copy of it that reads money as a
    number (``wrong.ts``): the compiler starts once (some 4 CPU-seconds) for both."""
    folder = tmp_path_factory.mktemp("typescript")
    generated = typescript_types(folder)
    walk = WALK.read_text(encoding="utf-8")
    wrong = walk.replace("const amount: string | undefined", "const amount: number | undefined")
    assert wrong != walk
    (folder / "walk.ts").write_text(walk, encoding="utf-8")
    (folder / "wrong.ts").write_text(wrong, encoding="utf-8")
    compiled = compile_typescript(folder, "walk.ts", "wrong.ts")
    assert compiled.stderr == ""
    return TypeScript(generated, [line for line in compiled.stdout.splitlines() if not line.startswith(" ")])


def test_the_typescript_types_generate_without_warning_and_a_typed_walk_compiles(typescript: TypeScript) -> None:
    assert [line for line in typescript.generated if TROUBLE.search(line)] == []
    assert typescript.diagnostics, "the compiler said nothing of wrong.ts"
    assert [line for line in typescript.diagnostics if not line.startswith("wrong.ts(")] == []


def test_the_typescript_walk_fails_to_compile_where_the_types_say_no(typescript: TypeScript) -> None:
    """The compile above checks something: money read as a number does not compile."""
    assert any(line.startswith("wrong.ts(") and "TS2322" in line for line in typescript.diagnostics)


def test_no_money_field_of_the_generated_python_client_is_a_float(python_client: tuple[ModuleType, list[str]]) -> None:
    """Amounts are strings both ways: a request's ``RemedyIn.amount`` as much as a response's ``RemedyOut.amount``."""
    models = importlib.import_module("tousu_client.models")
    seen = {}
    for name in ("RemedyIn", "RemedyOut", "RemedyTotal"):
        model = getattr(models, name)
        seen[name] = typing.get_type_hints(model, vars(sys.modules[model.__module__]))["amount"]
    assert all("float" not in str(hint) and "str" in str(hint) for hint in seen.values()), seen


def test_the_generated_python_client_walks_a_complaint_to_its_follow_up(
    python_client: tuple[ModuleType, list[str]], live_server: LiveServer
) -> None:
    client_package, _ = python_client
    models = importlib.import_module("tousu_client.models")

    def operation(tag: str, name: str) -> Any:
        """The generated module of one operation: ``sync`` returns its model."""
        return importlib.import_module(f"tousu_client.api.{tag}.{name}")

    def as_role(role: Role) -> Any:
        token = issue_key(live_server.settings, role)
        return client_package.AuthenticatedClient(
            base_url=live_server.url, token=token, raise_on_unexpected_status=True
        )

    intake, handler, supervisor = as_role(Role.intake), as_role(Role.handler), as_role(Role.supervisor)
    registered = operation("complaints", "register_complaint").sync(
        client=intake, body=models.ComplaintCreate.from_dict(complaint_body()), x_actor="agent-0042"
    )
    assert isinstance(registered, models.ComplaintOut), registered
    complaint_id = registered.id

    steps: list[tuple[Any, Any, Any]] = [
        (operation("moves", "investigate_complaint"), handler, models.InvestigateBody(store_id="SZ-FT-012")),
        (
            operation("moves", "store_feedback_complaint"),
            handler,
            models.StoreFeedbackBody.from_dict(
                {"store_id": "SZ-FT-012", "cause": "店员未按退货流程操作", "responsibility": "staff_fault"}
            ),
        ),
        (
            operation("moves", "propose_complaint"),
            handler,
            models.ProposeBody.from_dict(
                {
                    "remedy": {"kind": "refund", "amount": "300.00"},
                    "reply": "非常抱歉，为您全额退款。",
                    "reply_channel": "sms",
                }
            ),
        ),
        (
            operation("moves", "approve_complaint"),
            supervisor,
            None,
        ),  # no body: the generated function is called without one
        (
            operation("moves", "fulfil_complaint"),
            handler,
            models.FulfilBody.from_dict({"payment_reference": "WX-REFUND-4200001987"}),
        ),
        (operation("moves", "call_attempt_complaint"), handler, models.CallAttemptBody.from_dict({"outcome": "busy"})),
        (operation("moves", "revisit_complaint"), handler, models.RevisitBody.from_dict({"satisfaction": "satisfied"})),
    ]
    states = []
    for move, caller, body in steps:
        arguments = {"body": body} if body is not None else {}
        actor = "supervisor-03" if caller is supervisor else "handler-07"
        moved = move.sync(complaint_id, client=caller, x_actor=actor, **arguments)
        assert isinstance(moved, models.ComplaintOut), (move.__name__, moved)
        states.append(str(moved.state))
    assert states == [
        "investigating",
        "investigating",
        "awaiting_approval",
        "resolved",
        "resolved",
        "resolved",
        "revisited",
    ]

    read = operation("complaints", "get_complaint").sync(complaint_id, client=handler)
    assert isinstance(read, models.ComplaintOut)
    assert isinstance(read.remedy, models.RemedyOut)
    assert read.remedy.amount == "300.00"
    assert read.received_at.utcoffset() is not None
    page = operation("complaints", "list_complaints").sync(client=handler)
    assert isinstance(page, models.ComplaintPage)
    assert [item.id for item in page.items] == [complaint_id]
    day = read.received_at.date()
    summary = operation("reports", "get_summary").sync(client=as_role(Role.reporter), from_=day, to=day)
    assert isinstance(summary, models.Summary), summary
    assert summary.total.received == 1
    assert [remedy.amount for remedy in summary.total.remedies] == ["300.00"]
