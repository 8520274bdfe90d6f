"""The tests about the directory start with an empty one: each puts the units it is about (PUT /v1/stores/...)."""

from __future__ import annotations

import pytest


@pytest.fixture
def chain_directory() -> None:
    """No chain's directory here (tests/conftest.py puts one in for the other tests)."""
