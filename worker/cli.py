"""The `newsworker` command line. Each sub-command is a thin shell over one module."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from worker.config import Settings

from worker import __version__


def _settings() -> Settings:
    from worker.config import Settings

    return Settings()


def cmd_worker(args: argparse.Namespace) -> int:
    from worker.service.app import run_worker

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    run_worker(_settings(), loglevel=args.log_level)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from worker.tools.demo import run_demo

    console = Console() if sys.stdout.isatty() else Console(width=140)
    return run_demo(args.paths or None, once=args.once, console=console)


def cmd_produce(args: argparse.Namespace) -> int:
    from worker.files.produce import run_produce
    from worker.service.security import aiokafka_security_kwargs

    settings = _settings()
    return run_produce(
        args.bootstrap or settings.kafka_bootstrap,
        args.topic or settings.input_topic,
        args.paths,
        send_invalid=args.send_invalid,
        console=Console(stderr=True),
        client_kwargs=aiokafka_security_kwargs(settings),  # the worker's SASL/TLS settings
    )


def cmd_dedup(args: argparse.Namespace) -> int:
    import msgspec

    from worker.files.inputs import read_records
    from worker.files.offline import dedup_records
    from worker.tools.embedded import EmbeddedRedis

    settings = _settings()
    console = Console(stderr=True)
    encoder = msgspec.json.Encoder()

    def run(redis_url: str, *, secure: bool = True) -> int:
        to_stdout = str(args.output) == "-"
        with contextlib.nullcontext(sys.stdout.buffer) if to_stdout else open(args.output, "wb") as out:

            def write(_record, result) -> None:  # type: ignore[no-untyped-def]
                out.write(encoder.encode(result) + b"\n")

            summary = asyncio.run(
                dedup_records(read_records(args.input), redis_url, settings, on_result=write, secure=secure)
            )
        rate = summary.total / summary.seconds if summary.seconds else 0.0
        console.print(
            f"{summary.total} record(s): clean {summary.clean}, duplicate {summary.duplicate}, "
            f"dead letter {summary.dead_letter} in {summary.seconds:.1f}s ({rate:.0f}/s) -> {args.output}"
        )
        return 0

    if args.redis_url:
        return run(args.redis_url)
    with EmbeddedRedis() as redis_server:
        return run(redis_server.url, secure=False)  # the embedded Redis has no password or TLS


def cmd_schemas(args: argparse.Namespace) -> int:
    from worker.events import CONTRACTS, json_schema

    out_dir: Path = args.dir
    stale = []
    for role, kind in CONTRACTS.items():
        text = json.dumps(json_schema(kind), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        path = out_dir / f"{role}.schema.json"
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            out_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print("out of date (run `newsworker schemas`):", *stale, sep="\n  ", file=sys.stderr)
        return 1
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from worker.tools.evaluate import main as eval_main

    return int(eval_main(args))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="newsworker", description=__doc__)
    p.add_argument("--version", action="version", version=f"newsworker {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("worker", help="run the production worker (settings from NEWSWORKER_* env)")
    s.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    s.set_defaults(func=cmd_worker)

    s = sub.add_parser("demo", help="embedded broker + Redis + worker, feed samples, show results")
    s.add_argument("--once", action="store_true", help="exit when every input has its outcome")
    s.add_argument("paths", nargs="*", type=Path, help="article files/directories (default: bundled samples)")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("produce", help="feed .jsonl/.txt/.html files or directories into Kafka")
    s.add_argument("--topic", help="default: NEWSWORKER_INPUT_TOPIC")
    s.add_argument("--bootstrap", help="default: NEWSWORKER_KAFKA_BOOTSTRAP")
    s.add_argument("--send-invalid", action="store_true", help="send malformed records too (to test the DLQ)")
    s.add_argument("paths", nargs="+", type=Path)
    s.set_defaults(func=cmd_produce)

    s = sub.add_parser("dedup", help="offline dedup of files; one JSON line per input record")
    s.add_argument("--input", required=True, type=Path, nargs="+")
    s.add_argument("--output", required=True, type=Path, help="JSON lines of results; - for stdout")
    s.add_argument("--redis-url", help="use this Redis instead of an embedded one")
    s.set_defaults(func=cmd_dedup)

    s = sub.add_parser("schemas", help="write (or --check) the JSON Schemas of the event contracts")
    s.add_argument("--dir", type=Path, default=Path("schemas"))
    s.add_argument("--check", action="store_true")
    s.set_defaults(func=cmd_schemas)

    s = sub.add_parser("eval", help="near-duplicate accuracy on a labelled stream (see docs/EVALUATION.md)")
    s.add_argument("--data", type=Path, default=Path("../shared/data/ant-dev.jsonl.gz"))
    s.add_argument("--limit", type=int, default=None)
    s.add_argument("--redis-url")
    s.add_argument("--no-baselines", action="store_true")
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--offset", type=int, default=0, help="skip this many corpus articles (held-out part)")
    s.add_argument("--threshold", action="append", metavar="NAME=VALUE", help="override a dedup Threshold")
    s.add_argument("--report", type=Path, help="write every misclassified record here (JSON lines)")
    s.add_argument(
        "--semeval", type=Path, help="news pairs of the multilingual section (default: beside --data)"
    )
    s.add_argument("--no-multilingual", action="store_true", help="skip the multilingual section")
    s.set_defaults(func=cmd_eval)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except FileNotFoundError as exc:
        print(f"newsworker: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
