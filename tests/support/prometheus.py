"""A real Prometheus for tests: start Debian's `prometheus` on a loopback port, query it, and
list the dashboard's panel queries with Grafana's variables expanded, so a test can ask the real
server every panel and alert query of deploy/ (tests/integration/test_observability.py).
"""

from __future__ import annotations

import json
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker.tools.demo import WorkerProcess, worker_env
from worker.tools.embedded import (
    LOOPBACK,
    EmbeddedProcess,
    find_free_port,
)

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "newsworker.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"


# --- processes ---------------------------------------------------------------------------------


def _http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait_for(url: str, deadline: float, what: str, alive: Callable[[], bool] = lambda: True) -> None:
    """Polls `url` until it answers 200; gives up at `deadline` or as soon as `alive()` is False."""
    last: object = None
    while time.monotonic() < deadline and alive():
        try:
            status, body = _http_get(url, timeout=1.0)
            if status == 200:
                return
            last = body[:200]
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready at {url}: {last!r}")


class EmbeddedPrometheus(EmbeddedProcess):
    """A real Prometheus on a loopback port, scraping `targets` as job `newsworker`.

    Storage lives in the process' temporary work directory; `rule_files` are loaded and evaluated
    every `interval`, so a rule Prometheus cannot evaluate shows up in `rules()` as unhealthy.
    """

    name = "prometheus"

    def __init__(
        self,
        targets: Sequence[str],
        *,
        interval: str = "1s",
        rule_files: Sequence[Path] = (),
        binary: str = "prometheus",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.binary = binary
        config = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "rule_files": [str(Path(f).resolve()) for f in rule_files],
            "scrape_configs": [
                {
                    "job_name": "newsworker",
                    "scrape_timeout": interval,
                    "static_configs": [{"targets": list(targets)}],
                }
            ],
        }
        self.config_path = self.work_dir / "prometheus.yml"
        # JSON is YAML: no YAML writer needed.
        self.config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def command(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.work_dir / 'data'}",
            f"--web.listen-address={LOOPBACK}:{self.port}",
            "--storage.tsdb.retention.time=1d",
            "--log.level=warn",
        ]

    def probe(self, deadline: float) -> None:
        _wait_for(f"{self.url}/-/ready", deadline, "prometheus")

    @property
    def client(self) -> PrometheusAPI:
        return PrometheusAPI(self.url)


class PromQLError(RuntimeError):
    """Prometheus rejected a query (bad syntax, unknown function, ...)."""


class PrometheusAPI:
    """The few calls of Prometheus' HTTP API this project needs."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>; returns `data`, raises `PromQLError` with Prometheus' message."""
        query = urllib.parse.urlencode(params)
        status, body = _http_get(f"{self.url}/api/v1/{path}?{query}", timeout=30.0)
        answer = json.loads(body)
        if status != 200 or answer.get("status") != "success":
            raise PromQLError(f"{path} {params}: {answer.get('error', body[:300])!r}")
        return answer["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params = {"query": expr} if at is None else {"query": expr, "time": f"{at:.3f}"}
        return list(self.api("query", **params)["result"])

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step}"}
        return list(self.api("query_range", **params)["result"])

    def rules(self) -> list[dict[str, Any]]:
        return [rule for group in self.api("rules")["groups"] for rule in group["rules"]]


@dataclass
class RunningWorker:
    """A `newsworker worker` child process (`worker.tools.demo.WorkerProcess`) and its metrics port."""

    process: WorkerProcess
    port: int

    @property
    def target(self) -> str:
        """host:port as Prometheus scrapes it (and as its `instance` label shows it)."""
        return f"{LOOPBACK}:{self.port}"

    def stop(self) -> None:
        self.process.stop()


def start_worker(
    bootstrap: str,
    redis_url: str,
    topics: Sequence[str],
    *,
    app_id: str,
    log_path: Path,
    port: int | None = None,
    timeout: float = 60.0,
    **settings: str,
) -> RunningWorker:
    """Starts `newsworker worker` on `topics` (input, clean, duplicates, dlq) and returns once
    `/readyz` answers 200 (broker connected, Redis reachable, partitions assigned).

    `settings` are extra NEWSWORKER_* values by lower-case name (`stats_interval_seconds="2"`).
    """
    port = port or find_free_port()
    env = worker_env(
        bootstrap,
        redis_url,
        topics=dict(zip(("input", "clean", "duplicates", "dlq"), topics, strict=True)),
        metrics_port=port,
        app_id=app_id,
        extra={f"NEWSWORKER_{k.upper()}": v for k, v in settings.items()},
    )
    worker = RunningWorker(WorkerProcess(env, log_path), port)
    worker.process.start()
    try:
        _wait_for(
            f"http://{worker.target}/readyz",
            time.monotonic() + timeout,
            "worker",
            alive=lambda: worker.process.proc is not None and worker.process.proc.poll() is None,
        )
        return worker
    except TimeoutError:
        worker.process.kill()
        tail = log_path.read_text(errors="replace")[-3000:] if log_path.exists() else ""
        raise RuntimeError(f"worker on {worker.target} did not get ready; log {log_path}:\n{tail}") from None


# --- dashboard queries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PanelQuery:
    panel: str
    kind: str
    expr: str
    legend: str
    unit: str
    log_scale: bool
    grid: tuple[int, int, int, int]  # x, y, w, h on Grafana's 24-column grid


def panel_queries(dashboard: Mapping[str, Any] | None = None) -> list[PanelQuery]:
    """Every query of every panel, in dashboard order (rows have none)."""
    if dashboard is None:
        dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queries = []
    for panel in dashboard["panels"]:
        defaults = panel.get("fieldConfig", {}).get("defaults", {})
        scale = defaults.get("custom", {}).get("scaleDistribution", {})
        pos = panel["gridPos"]
        for target in panel.get("targets", []):
            queries.append(
                PanelQuery(
                    panel=panel["title"],
                    kind=panel["type"],
                    expr=target["expr"],
                    legend=target.get("legendFormat", ""),
                    unit=defaults.get("unit", "short"),
                    log_scale=scale.get("type") == "log",
                    grid=(pos["x"], pos["y"], pos["w"], pos["h"]),
                )
            )
    return queries


def substitute(expr: str, *, rate_interval: str = "15s", instance: str = ".*") -> str:
    """Expands the Grafana variables the dashboard uses, as Grafana does before it queries."""
    return (
        expr.replace("$__rate_interval", rate_interval)
        .replace("$__interval", rate_interval)
        .replace("$instance", instance)
    )


def legend_of(legend: str, labels: Mapping[str, str]) -> str:
    if legend and legend != "__auto":
        return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), legend)
    shown = {k: v for k, v in labels.items() if k != "__name__"}
    return ", ".join(f"{k}={v}" for k, v in shown.items()) or "value"


def finite_values(result: Sequence[Mapping[str, Any]]) -> Iterator[float]:
    """The finite sample values of a query result (instant vector or range matrix)."""
    for series in result:
        points = series.get("values") or [series["value"]]
        for _, raw in points:
            value = float(raw)
            if math.isfinite(value):
                yield value


# --- drawing -----------------------------------------------------------------------------------
