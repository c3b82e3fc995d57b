"""The files in deploy/prometheus and deploy/grafana are valid, tested, and name real metrics.

- `promtool check config`, `promtool check rules` and `promtool test rules` (the rule unit tests in
  deploy/prometheus/alerts_test.yml) pass; `promtool check metrics` finds nothing to lint in what
  the worker exports.
- Every `newsworker_*` metric a dashboard panel or an alert rule queries is one `worker.service.metrics`
  exports, so a rename on either side fails here in milliseconds (the integration test then
  proves the queries return data against a real Prometheus).
- The committed dashboard JSON is what deploy/grafana/dashboard.py generates, and it refers to the
  data source uid that the provisioning declares.

promtool comes from Debian's `prometheus` package (`.ci/run` installs it). Without it these tests
skip, except under CI=true, where a missing promtool is a failure.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from tests.conftest import require_tool
from worker.errors import REFUSAL_KINDS
from worker.service.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "newsworker.json"


def promtool() -> str:
    return require_tool("promtool", "install Debian's `prometheus` package (apt-get install)")


def run_promtool(*args: str, stdin: bytes | None = None) -> str:
    result = subprocess.run(
        [promtool(), *args],
        cwd=PROMETHEUS,
        input=stdin,
        capture_output=True,
        timeout=60,
    )
    output = (result.stdout + result.stderr).decode()
    assert result.returncode == 0, output
    return output


def load_dashboard_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("newsworker_dashboard", GRAFANA / "dashboard.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class body runs.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def alert_exprs() -> dict[str, str]:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))
    return {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"]}


def exported_names() -> set[str]:
    """Every sample name a fully exercised `Metrics` exports."""
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.set_build_info(version="0", fingerprint_scheme="v0")
    metrics.redis_call("dedup", 0.001, ok=False)
    metrics.set_consumer_lag(0, 1)
    metrics.track_prepare_processes(lambda: [os.getpid()])
    return {s.name for family in registry.collect() for s in family.samples}


# --- promtool ------------------------------------------------------------------------------------


def test_config_is_valid() -> None:
    output = run_promtool("check", "config", "prometheus.yml")
    assert "1 rule files found" in output


def test_rules_are_valid() -> None:
    output = run_promtool("check", "rules", "alerts.yml")
    assert f"{len(alert_exprs())} rules found" in output


#: The rule unit test files: alerts_week_test.yml holds the rules that look a week back, at a
#: coarser evaluation interval (a week of 1-minute evaluations took promtool ~2 minutes).
RULE_TESTS = ("alerts_test.yml", "alerts_week_test.yml")


def test_rule_unit_tests_pass() -> None:
    output = run_promtool("test", "rules", *RULE_TESTS)
    assert output.count("SUCCESS") == len(RULE_TESTS)


def test_every_alert_has_a_unit_test() -> None:
    tests = [
        test
        for name in RULE_TESTS
        for test in yaml.safe_load((PROMETHEUS / name).read_text(encoding="utf-8"))["tests"]
    ]
    tested_firing = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert tested_firing == set(alert_exprs())


def test_exported_metrics_pass_promtool_lint() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.set_build_info(version="0", fingerprint_scheme="v0")
    metrics.track_prepare_processes(lambda: [os.getpid()])
    output = run_promtool("check", "metrics", stdin=generate_latest(registry))
    # promtool prints nothing when the exposition is clean.
    assert output.strip() == "", output


# --- alert rules: content ------------------------------------------------------------------------


def test_every_alert_is_actionable() -> None:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))
    doc = (ROOT / "docs" / "OBSERVABILITY.md").read_text(encoding="utf-8").lower()
    for rule in (r for g in rules["groups"] for r in g["rules"]):
        annotations = rule["annotations"]
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, rule["alert"]
        assert annotations["summary"] and len(annotations["description"]) > 80, rule["alert"]
        anchor = annotations["runbook"].split("#", 1)[1]
        assert anchor == rule["alert"].lower()
        assert f"### {rule['alert'].lower()}" in doc, f"runbook section for {rule['alert']}"


def runbook_section(doc: str, alert: str) -> str:
    start = doc.index(f"#### {alert}\n")
    end = doc.find("\n#### ", start + 1)
    return doc[start : end if end != -1 else len(doc)]


def test_every_alert_is_in_the_docs_summary_table() -> None:
    doc = (ROOT / "docs" / "OBSERVABILITY.md").read_text(encoding="utf-8")
    missing = [alert for alert in alert_exprs() if f"\n| {alert} | " not in doc]
    assert not missing, f"docs/OBSERVABILITY.md's alert table lacks {missing}"


def test_docs_name_every_redis_refusal_kind() -> None:
    doc = (ROOT / "docs" / "OBSERVABILITY.md").read_text(encoding="utf-8")
    (row,) = [line for line in doc.splitlines() if line.startswith("| `newsworker_redis_refused_total`")]
    labels = row.split("|")[3]
    assert [kind for kind in REFUSAL_KINDS if not re.search(rf"\b{kind}\b", labels)] == []


def test_docs_say_the_broker_alert_covers_a_broker_lost_at_runtime() -> None:
    """The worker probes its broker every few seconds and counts an unanswered probe in
    newsworker_broker_unreachable_seconds: the runbook once said a broker lost after the start
    was "not this alert"."""
    doc = (ROOT / "docs" / "OBSERVABILITY.md").read_text(encoding="utf-8")
    section = runbook_section(doc, "NewsworkerBrokerUnreachable")
    assert "not this alert" not in section
    assert "running worker" in section
    (row,) = [line for line in doc.splitlines() if line.startswith("| NewsworkerBrokerUnreachable |")]
    assert "since it stopped answering" in row


def test_docs_promise_no_restart_compose_does_not_make() -> None:
    """Compose restarts a container when its process exits, never for a failing healthcheck:
    "the orchestrator restarts it" was untrue for the Compose stack the runbooks also serve."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert compose["services"]["worker"]["restart"] in {"no", "always", "on-failure", "unless-stopped"}
    for path in (ROOT / "docs" / "OBSERVABILITY.md", PROMETHEUS / "alerts.yml", ROOT / "deploy" / "README.md"):
        text = " ".join(path.read_text(encoding="utf-8").split())
        assert "the orchestrator restarts" not in text, path


# --- metric names used by queries -------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expr"),
    [*(("dashboard", e) for e in dashboard_exprs()), *alert_exprs().items()],
)
def test_queries_use_exported_metrics(where: str, expr: str) -> None:
    used = set(re.findall(r"\bnewsworker_[a-z_]+", expr))
    if not used:  # the scrape health Prometheus itself records for the worker's job
        assert 'up{job="newsworker"' in expr, f"{where}: {expr} queries no newsworker metric"
    assert used <= exported_names(), f"{where}: unknown {used - exported_names()}"


# --- Grafana --------------------------------------------------------------------------------------


def test_dashboard_json_is_generated() -> None:
    module = load_dashboard_module()
    assert DASHBOARD.read_text(encoding="utf-8") == module.render(), (
        "deploy/grafana/dashboards/newsworker.json is stale: run `python deploy/grafana/dashboard.py --write`"
    )


def test_dashboard_uses_the_provisioned_datasource() -> None:
    provisioned = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text(encoding="utf-8")
    )
    [source] = provisioned["datasources"]
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == source["uid"], panel["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_dashboard_provider_points_at_the_mounted_folder() -> None:
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "newsworker.yml").read_text(encoding="utf-8")
    )
    [entry] = provider["providers"]
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert f"./deploy/grafana/dashboards:{entry['options']['path']}" in compose


def test_dashboard_covers_what_operators_watch() -> None:
    titles = {p["title"] for p in json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]}
    for wanted in (
        "Throughput by outcome",
        "Duplicate ratio by kind",
        "Dead letters by reason",
        "Stage latency p50",
        "Stage latency p95",
        "Stage latency p99",
        "End-to-end delay",
        "Consumer lag by partition",
        "Redis call latency",
        "Redis errors and retries",
        "Rebalances",
        "Throughput per worker",
        "Broker unreachable per worker",
        "Input log resets",
        "Redis evicts when full",
        "Clock offset from Redis",
    ):
        assert wanted in titles


def test_dashboard_shows_what_the_worker_says_about_its_dependencies() -> None:
    """Each metric an alert watches for a broken dependency or setting has a panel, so the
    alert's runbook can point at it."""
    queried = set(re.findall(r"\bnewsworker_[a-z_]+", " ".join(dashboard_exprs())))
    for metric in (
        "newsworker_broker_unreachable_seconds",
        "newsworker_input_log_resets_total",
        "newsworker_redis_evicting",
        "newsworker_clock_offset_seconds",
        "newsworker_redis_refused_total",
        "newsworker_redis_data_lost_total",
        "newsworker_redis_evicted_keys_total",
        "newsworker_redis_memory_used_ratio",
        "newsworker_pipeline_stalled_seconds",
        "newsworker_prepare_restarts_total",
    ):
        assert metric in queried, metric


def per_second(expr: str) -> bool | None:
    """True for a per-second rate, False for a count per interval (`increase`), None otherwise
    (a gauge, a quantile)."""
    if "increase(" in expr:
        return False
    if "rate(" in expr and "histogram_quantile" not in expr:
        return True
    return None


def test_no_panel_mixes_rates_and_counts_per_interval() -> None:
    """One panel has one unit: events per second and events per interval on the same axis read
    as the same thing and differ by the interval's length."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    for panel in dashboard["panels"]:
        kinds = {per_second(t["expr"]) for t in panel.get("targets", [])} - {None}
        assert len(kinds) <= 1, f"{panel['title']}: rates and increases together"
        if kinds == {True}:
            assert panel["fieldConfig"]["defaults"]["unit"] in {"ops", "Bps", "percentunit"}, panel["title"]
