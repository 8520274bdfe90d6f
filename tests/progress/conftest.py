from __future__ import annotations

import pytest
from fastapi import FastAPI

from app.auth.limiter import FailureLimiter


@pytest.fixture(autouse=True)
def _progress_requests_uncounted(app: FastAPI) -> None:
    """Each test starts as a new process does: no progress-page request counted yet from any address."""
    settings = app.state.settings
    app.state.progress_requests = FailureLimiter(
        settings.progress_requests_burst, settings.progress_requests_per_minute
    )
