"""The Grafana dashboard and the Prometheus alert rules in deploy/ parse, and use only series tousu exports, with
labels those series have."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics_core import Metric

from app.db import Database
from app.metrics.database import DatabaseState
from tests.conftest import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "tousu.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
# A series name, and the label names of its selector when it has one: tousu_x{a="1",b=~"2"}.
SELECTOR = re.compile(r"\b(tousu_[a-z_]+)\b(?:\{([^}]*)\})?")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def families(db: Database) -> Iterator[Metric]:
    yield from (family for family in REGISTRY.collect() if family.name.startswith("tousu_"))
    yield from DatabaseState(db).collect()


@pytest.fixture
def exported(db: Database) -> dict[str, set[str]]:
    """Every series name tousu exports, with its label names (``le`` on histogram buckets)."""
    names: dict[str, set[str]] = {}
    for family in families(db):
        labels = set(getattr(REGISTRY._names_to_collectors.get(family.name), "_labelnames", ()))
        labels |= {label for sample in family.samples for label in sample.labels}
        for suffix in SUFFIXES[family.type]:
            names[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return names


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"] for rule in group["rules"]]


def test_the_dashboard_and_the_alerts_use_only_exported_series(exported: dict[str, set[str]]) -> None:
    queries = dashboard_queries() + [rule["expr"] for rule in alert_rules()]
    used = set()
    for query in queries:
        for name, selector in SELECTOR.findall(query):
            assert name in exported, f"{name} (in {query!r}) is not exported"
            labels = set(re.findall(r"([a-z_]+)\s*=~?", selector))
            assert labels <= exported[name], f"{query!r}: {name} has no label {labels - exported[name]}"
            used.add(name)
    # Every series is on the dashboard (a histogram by its buckets).
    shown = {re.sub(r"_(bucket|sum|count)$", "", name) for name in used}
    assert {re.sub(r"_(bucket|sum|count)$", "", name) for name in exported} <= shown


def test_the_alerts_catch_a_stopped_sweeper_and_a_stopped_dispatcher() -> None:
    rules = {rule["alert"]: rule for rule in alert_rules()}
    assert rules["TousuSweeperStopped"]["expr"] == "max(tousu_sweeper_lag_seconds) > 300"
    assert rules["TousuWebhookDispatcherStopped"]["expr"] == "max(tousu_webhook_dispatch_lag_seconds) > 900"
    for rule in rules.values():
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
