"""Draws the Grafana dashboard from a real run's Prometheus data, and records such a run.

    python deploy/grafana/render.py record --out docs/dashboard.png   # ~2 minutes, see --help

`record` starts everything on loopback ports: the embedded broker and Redis, `--workers` worker
processes (`python -m worker worker`), and a real Prometheus (Debian's `prometheus` binary)
scraping them every second with the project's alert rules loaded. It then feeds real Arabic news
(`../shared/data/ant-dev.jsonl.gz`) at a steady rate, with a share of broken messages, and draws
every panel of `dashboards/newsworker.json` from Prometheus' answers to the panel's own queries
(matplotlib, laid out on the dashboard's grid). Grafana itself is not needed: the picture shows
what the dashboard's queries return, which is what Grafana would plot.

    python deploy/grafana/render.py draw --prometheus http://127.0.0.1:9090 --minutes 15

draws from any Prometheus that scrapes workers (e.g. the docker-compose one).

The pieces are reused by `tests/integration/test_observability.py`: `EmbeddedPrometheus`,
`start_worker`, `panel_queries` and `substitute` (which expands Grafana's variables), `draw`.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import math
import random
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

# Run as a script from a checkout, `worker` is importable even when the project is not installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from worker.demo import WorkerProcess, worker_env
from worker.embedded import (
    LOOPBACK,
    EmbeddedKafka,
    EmbeddedProcess,
    EmbeddedRedis,
    create_topics,
    find_free_port,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DASHBOARD = HERE / "dashboards" / "newsworker.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
CORPUS = ROOT.parent / "shared" / "data" / "ant-dev.jsonl.gz"


# --- processes ---------------------------------------------------------------------------------


def _http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback)
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
    """A `newsworker worker` child process (`worker.demo.WorkerProcess`) and its metrics port."""

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

BACKGROUND = "#111217"
PANEL = "#181b1f"
TEXT = "#ccccdc"
GRID = "#2c3235"
PALETTE = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9", "#fade2a"]


def _fmt(value: float, unit: str) -> str:
    if not math.isfinite(value):
        return "-"
    if unit == "percentunit":
        return f"{value * 100:.1f}%"
    if unit == "s":
        for scale, suffix in ((1, "s"), (1e-3, "ms"), (1e-6, "µs")):
            if abs(value) >= scale or scale == 1e-6:
                return f"{value / scale:.3g} {suffix}"
    if unit in ("bytes", "Bps"):
        for scale, suffix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"), (1, "B")):
            if abs(value) >= scale or scale == 1:
                per = "/s" if unit == "Bps" else ""
                return f"{value / scale:.3g} {suffix}{per}"
    if unit == "ops":
        return f"{value:.3g}/s"
    return f"{value:.4g}"


def draw(
    prometheus: PrometheusAPI,
    start: float,
    end: float,
    out: Path,
    *,
    step: float = 2.0,
    rate_interval: str = "15s",
    title: str = "newsworker",
) -> Path:
    """Draws every panel from Prometheus range queries over [start, end] into `out` (PNG).

    Panels sit where the dashboard's `gridPos` puts them (24 columns); each query is the panel's
    own PromQL with Grafana's variables expanded (`substitute`). Stat panels show the last
    value, the table lists its series' labels, time series are lines with the panel's unit.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in dashboard["panels"])
    fig_w, unit_h, header = 22.0, 0.42, 0.6  # inches: width, one grid row, title band
    fig_h = bottom * unit_h + header
    fig = plt.figure(figsize=(fig_w, fig_h), facecolor=BACKGROUND)
    fig.text(
        0.006,
        1 - 0.35 / fig_h,
        f"{title}   {datetime.fromtimestamp(start):%Y-%m-%d %H:%M:%S} – "
        f"{datetime.fromtimestamp(end):%H:%M:%S}   (panel queries answered by Prometheus)",
        color=TEXT,
        fontsize=13,
        va="center",
    )

    def outer(x: int, y: int, w: int, h: int) -> tuple[float, float, float, float]:
        gap_x, gap_y = 0.05 / fig_w, 0.05 / fig_h
        top = 1 - (header + y * unit_h) / fig_h
        height = h * unit_h / fig_h
        return (x / 24 + gap_x, top - height + gap_y, w / 24 - 2 * gap_x, height - 2 * gap_y)

    by_panel: dict[str, list[PanelQuery]] = {}
    for q in panel_queries(dashboard):
        by_panel.setdefault(q.panel, []).append(q)
    for panel in dashboard["panels"]:
        x0, y0, w, h = outer(*(panel["gridPos"][k] for k in ("x", "y", "w", "h")))
        if panel["type"] == "row":
            fig.text(x0, y0 + h / 2, panel["title"], color=TEXT, fontsize=12,
                     fontweight="bold", va="center")  # fmt: skip
            continue
        background = Rectangle((x0, y0), w, h, facecolor=PANEL, edgecolor=GRID, zorder=-1)
        fig.add_artist(background).set_transform(fig.transFigure)
        fig.text(x0 + 0.08 / fig_w, y0 + h - 0.2 / fig_h, panel["title"], color=TEXT,
                 fontsize=10, va="center")  # fmt: skip
        queries = by_panel[panel["title"]]
        results = [
            (q, prometheus.query_range(substitute(q.expr, rate_interval=rate_interval), start, end, step))
            for q in queries
        ]  # fmt: skip
        if panel["type"] == "stat":
            # Grafana's "last not null" of the panel's series.
            last = [float(v) for _, r in results for series in r for _, v in series["values"][-1:]]
            value = _fmt(last[0] if last else float("nan"), queries[0].unit)
            fig.text(x0 + w / 2, y0 + h * 0.42, value, color=PALETTE[0], fontsize=24,
                     ha="center", va="center")  # fmt: skip
        elif panel["type"] == "table":
            lines = [
                "   ".join(f"{k}={v}" for k, v in sorted(s["metric"].items()) if k != "__name__")
                for _, r in results
                for s in r
            ]
            fig.text(x0 + 0.15 / fig_w, y0 + h - 0.45 / fig_h, "\n".join(lines) or "No data",
                     color=TEXT, fontsize=9, va="top", family="monospace")  # fmt: skip
        else:
            left, right, top, below = 0.75, 0.15, 0.4, 0.75  # inches inside the panel
            ax = fig.add_axes(
                (x0 + left / fig_w, y0 + below / fig_h, w - (left + right) / fig_w,
                 h - (top + below) / fig_h),
                facecolor=PANEL,
            )  # fmt: skip
            _plot_timeseries(ax, results)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80, facecolor=BACKGROUND)
    plt.close(fig)
    return out


def _plot_timeseries(ax: Any, results: list[tuple[PanelQuery, list[dict[str, Any]]]]) -> None:
    import matplotlib.dates as mdates
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    unit = results[0][0].unit
    log_scale = results[0][0].log_scale
    for spine in ax.spines.values():
        spine.set_color(GRID)
    ax.tick_params(colors=TEXT, labelsize=7)
    ax.grid(color=GRID, linewidth=0.5)
    lines, labels = [], []
    for q, result in results:
        for series in result:
            times = [datetime.fromtimestamp(float(t)) for t, _ in series["values"]]
            values = [float(v) for _, v in series["values"]]
            if log_scale:
                values = [v if v > 0 else float("nan") for v in values]
            (line,) = ax.plot(times, values, linewidth=1.3,
                              color=PALETTE[len(lines) % len(PALETTE)])  # fmt: skip
            # Series that stay at zero (pre-created label values) are drawn, but only named in
            # the legend when there is room, so the series that moved are easy to find.
            if any(v != 0 and math.isfinite(v) for v in values) or len(lines) < 4:
                labels.append((line, legend_of(q.legend, series["metric"])))
            lines.append(line)
    if not lines:
        ax.text(0.5, 0.5, "No data", color=TEXT, ha="center", transform=ax.transAxes)
        return
    if log_scale:
        ax.set_yscale("log")
        # Ticks at 1-2-5 of each decade: a panel spanning less than a decade still gets labels.
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=6))  # type: ignore[no-untyped-call]
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _fmt(v, unit)))
    shown = labels[:8]
    ax.legend([line for line, _ in shown], [label for _, label in shown], fontsize=7,
              loc="upper left", bbox_to_anchor=(0.0, -0.16), ncol=4, frameon=False,
              labelcolor=TEXT)  # fmt: skip


# --- a recorded run ----------------------------------------------------------------------------


def corpus_messages(path: Path, *, broken_every: int, seed: int = 7) -> Iterator[bytes]:
    """Raw articles from the corpus as JSON bytes, with a broken message every `broken_every`."""
    rng = random.Random(seed)
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for index, line in enumerate(lines, start=1):
            yield line.encode()
            if broken_every and index % broken_every == 0:
                yield rng.choice([b'{"id": "cut-off", "text": "half a mess', b"\xff\xfe\x00 not utf-8"])


async def feed(bootstrap: str, topic: str, messages: Iterator[bytes], rate: float, seconds: float) -> int:
    """Sends `rate` messages per second for `seconds` (in small bursts); returns how many."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=16 * 2**20)
    await producer.start()
    sent = 0
    try:
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            due = int(elapsed * rate) + 1
            while sent < due:
                value = next(messages, None)
                if value is None:
                    return sent
                await producer.send(topic, value)
                sent += 1
            await producer.flush()
            await asyncio.sleep(0.1)
        return sent
    finally:
        await producer.stop()


def record(args: argparse.Namespace) -> int:
    if not args.corpus.exists():
        print(f"corpus {args.corpus} not found (expected ../shared/data beside the repository)")
        return 2
    topics = ["news.raw", "news.clean", "news.duplicates", "news.dlq"]
    with EmbeddedKafka() as kafka, EmbeddedRedis() as redis:
        asyncio.run(create_topics(kafka.bootstrap, topics, args.partitions))
        ports = [find_free_port() for _ in range(args.workers)]
        prometheus = EmbeddedPrometheus([f"{LOOPBACK}:{p}" for p in ports], rule_files=[ALERTS])
        workers: list[RunningWorker] = []

        def add_worker(port: int) -> None:
            log_path = prometheus.work_dir / f"worker-{len(workers)}.log"
            workers.append(
                start_worker(kafka.bootstrap, redis.url, topics, app_id="newsworker", log_path=log_path,
                             port=port, stats_interval_seconds="10")
            )  # fmt: skip
            print(f"worker {workers[-1].target} ready (log {log_path})")

        try:
            prometheus.start()
            print(f"prometheus {prometheus.url}")
            start = time.time()
            add_worker(ports[0])
            messages = corpus_messages(args.corpus, broken_every=args.broken_every)
            third = args.seconds / 3
            sent = asyncio.run(feed(kafka.bootstrap, topics[0], messages, args.rate, third))
            for port in ports[1:]:  # the others join mid-run: the picture shows a rebalance
                add_worker(port)
            sent += asyncio.run(feed(kafka.bootstrap, topics[0], messages, args.rate, 2 * third))
            print(f"fed {sent} messages; letting the workers drain")
            time.sleep(args.drain)
            end = time.time()
            out = draw(
                prometheus.client, start, end, args.out, step=args.step, rate_interval=args.rate_interval
            )
            print(f"wrote {out}")
        finally:
            for worker in workers:
                worker.stop()
            prometheus.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="run broker, Redis, workers and Prometheus; feed; draw")
    rec.add_argument("--out", type=Path, default=ROOT / "docs" / "dashboard.png")
    rec.add_argument("--corpus", type=Path, default=CORPUS)
    rec.add_argument("--workers", type=int, default=2)
    rec.add_argument("--partitions", type=int, default=6)
    rec.add_argument("--rate", type=float, default=150.0, help="articles fed per second")
    rec.add_argument("--seconds", type=float, default=90.0, help="how long to feed")
    rec.add_argument("--broken-every", type=int, default=40, help="one broken message per N")
    rec.add_argument("--drain", type=float, default=15.0, help="seconds to watch after feeding")
    rec.add_argument("--step", type=float, default=2.0)
    rec.add_argument("--rate-interval", default="15s")
    dr = sub.add_parser("draw", help="draw from a running Prometheus that scrapes workers")
    dr.add_argument("--prometheus", required=True, help="base URL, e.g. http://127.0.0.1:9090")
    dr.add_argument("--minutes", type=float, default=15.0)
    dr.add_argument("--out", type=Path, default=ROOT / "docs" / "dashboard.png")
    dr.add_argument("--step", type=float, default=15.0)
    dr.add_argument("--rate-interval", default="1m")
    args = parser.parse_args(argv)
    if args.command == "record":
        return record(args)
    end = time.time()
    start = end - args.minutes * 60
    remote = PrometheusAPI(args.prometheus)
    draw(remote, start, end, args.out, step=args.step, rate_interval=args.rate_interval)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
