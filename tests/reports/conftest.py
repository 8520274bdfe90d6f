"""The seeded month of tests/reports/dataset.py, and a reporter's key to read it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Caller
from tests.reports.dataset import Month


@pytest.fixture
def month(handler: Caller, supervisor: Caller) -> dict[str, str]:
    return Month(handler, supervisor).build()


@pytest.fixture
def reporter(make_caller: Any) -> Caller:
    return make_caller("reporter", actor="reporter-01")
