from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from app.auth.limiter import FailureLimiter
from app.auth.models import Role
from tests.conftest import Caller
from tests.progress.cases import APPROVER


@pytest.fixture(autouse=True)
def _progress_requests_uncounted(app: FastAPI) -> None:
    """Each test starts as a new process does: no progress-page request counted yet from any address."""
    settings = app.state.settings
    app.state.progress_requests = FailureLimiter(
        settings.progress_requests_burst, settings.progress_requests_per_minute
    )


@pytest.fixture
def supervisor(make_caller: Any) -> Caller:
    """The approver, by a name the progress page must never show."""
    return make_caller(Role.supervisor, actor=APPROVER)
