"""CPU instructions per article of the pure stages (`prepare_batch`), counted by valgrind.

    python bench/instructions.py [--articles 500] [--rounds 1] [--root DIR] [--keep FILE]

Time on a shared two-core machine moves by ±30-50 % from one minute to the next; an instruction
count does not: the same code on the same articles gives the same count to a few parts in a
million, so a change of 1 % is seen in one run, and two commits are compared without
interleaving. It is not time (a cache miss or a division costs more than an addition), but for
the Python and C of these stages the two move together (docs/BENCHMARKS.md, session 23).

The child loads `--articles` real articles (../shared/data/ant-dev.jsonl.gz) and prepares a few
once (imports, the language model, first-call caches) with valgrind's instrumentation off, then
this script turns it on (`callgrind_control --instr=on`) and the child prepares all of them
`--rounds` times, as the prepare processes do (stage by stage over the batch). `--root` runs
another checkout's `worker` (a `git worktree` of another commit, its extensions copied or built).
`--keep` keeps callgrind's output for `callgrind_annotate`. Needs valgrind (Debian's package).

`--side loop` counts the event loop's side instead: what the worker's main process does with a
prepared batch apart from Kafka (read the prepare process' pickled results, `_from_wire`, the
dedup stage against a real redis-server (started here, not counted: its own process), the
outcomes). The batches are prepared before the count; one batch decided first warms the store
(its script, its connection, its keys), then `--rounds` fresh batches of `--articles` are counted.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import os, sys, time
root, articles, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ready, go, done, leave = sys.argv[4:8]
sys.path.insert(0, root)
from bench import corpus
from worker.config import Settings
from worker.pipeline import Message, limits_of, prepare_batch
records = corpus.messages(corpus.load_articles(limit=articles))
if len(records) < articles:
    sys.exit(f"only {len(records)} articles in the corpus")
messages = [
    Message(value=v, origin=f"bench:0:{i}", topic="bench", partition=0, offset=i)
    for i, (_, v) in enumerate(records)
]
limits = limits_of(Settings())
try:  # the model, as a prepare process loads it before its first batch (older checkouts: lazily)
    from worker.normalize.language import warm_up
except ImportError:
    warm_up = None
if warm_up is not None:
    warm_up()
prepare_batch(messages[:20], limits=limits, now=1.8e9)  # warm: imports, model, caches
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.02)
for _ in range(rounds):
    prepare_batch(messages, limits=limits, now=1.8e9)
open(done, "w").close()  # counted up to here: no interpreter shutdown (a prepare process runs for hours)
while not os.path.exists(leave):  # a few polls counted (~1 k instructions an article at most)
    time.sleep(0.5)
"""


LOOP_CHILD = r"""
import asyncio, os, pickle, sys, time
root, articles, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ready, go, done, leave = sys.argv[4:8]
sys.path.insert(0, root)
from bench import corpus
from bench.run import REDIS_ARGS
from worker.config import Settings
from worker.dedup.decision import Thresholds
from worker.dedup.fingerprint import DEFAULT_SCHEME
from worker.dedup.store import connect, make_store
from worker.pipeline import Message, decide_batch, limits_of, outcomes_of
from worker.service.preparer import _from_wire, _prepare_remote, _to_wire
from worker.tools.embedded import EmbeddedRedis
records = corpus.messages(corpus.load_articles(limit=articles * (rounds + 1)))
if len(records) < articles * (rounds + 1):
    sys.exit(f"only {len(records)} articles in the corpus")
limits = limits_of(Settings())
batches = []
for r in range(rounds + 1):
    chunk = records[r * articles:(r + 1) * articles]
    raw = [(v, f"bench:0:{i}", "bench", 0, i, 1.7e9) for i, (_, v) in enumerate(chunk)]
    wires = [_to_wire(Message(*x)) for x in raw]
    prepared = _prepare_remote(wires, limits=limits, scheme=DEFAULT_SCHEME, now=1.8e9, events=True)
    batches.append((raw, pickle.dumps(prepared)))

async def decide(store, raw, blob):
    staged = _from_wire([Message(*x) for x in raw], pickle.loads(blob)[0])
    outcomes_of(staged, await decide_batch(staged, store, thresholds=Thresholds()), now=1.8e9)

async def main(url):
    store = make_store(connect(url), Settings(), DEFAULT_SCHEME)
    await decide(store, *batches[0])  # warm: the script, the connection, the keys
    open(ready, "w").close()
    while not os.path.exists(go):
        await asyncio.sleep(0.02)
    for raw, blob in batches[1:]:
        await decide(store, raw, blob)
    open(done, "w").close()  # counted up to here: not the shutdown of the client, the server
    while not os.path.exists(leave):
        await asyncio.sleep(0.5)

with EmbeddedRedis(extra_args=REDIS_ARGS) as redis_server:
    asyncio.run(main(redis_server.url))
"""


def count(root: Path, articles: int, rounds: int, keep: Path | None, side: str = "prepare") -> int:
    """Instructions the child executes after its warm-up (all of its threads)."""
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install valgrind")
    with tempfile.TemporaryDirectory(prefix="newsworker-instr-") as tmp:
        ready, go, done, leave = (Path(tmp) / name for name in ("ready", "go", "done", "leave"))
        out = keep or Path(tmp) / "callgrind.out"
        child = subprocess.Popen(
            [
                "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                sys.executable, "-c", CHILD if side == "prepare" else LOOP_CHILD,
                str(root), str(articles), str(rounds), str(ready), str(go), str(done), str(leave),
            ],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 600
        for step, signal in (("start", ready), ("finish", done)):
            while not signal.exists():
                if child.poll() is not None or time.monotonic() > deadline:
                    child.kill()
                    raise SystemExit(f"the child did not {step}:\n{child.communicate()[0][-3000:]}")
                time.sleep(0.1)
            instrument = "--instr=on" if step == "start" else "--instr=off"
            subprocess.run(["callgrind_control", instrument, str(child.pid)], check=True, capture_output=True)
            (go if step == "start" else leave).touch()
        log = child.communicate()[0]
        if child.returncode != 0:
            raise SystemExit(f"the child failed:\n{log[-3000:]}")
        found = re.search(r"Collected : (\d+)", log)
        if found is None:
            raise SystemExit(f"no count in valgrind's report:\n{log[-3000:]}")
        return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose worker/ is counted")
    parser.add_argument("--keep", type=Path, help="keep callgrind's output here")
    parser.add_argument(
        "--side", choices=("prepare", "loop"), default="prepare",
        help="the pure stages (a prepare process), or the event loop's side (the dedup stage and around it)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    total = count(args.root.resolve(), args.articles, args.rounds, args.keep, args.side)
    per_article = total / (args.articles * args.rounds)
    head = subprocess.run(
        ["git", "-C", str(args.root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    print(
        f"{args.root} ({head.stdout.strip() or '?'}): {total:,} instructions, "
        f"{per_article:,.0f} per article ({args.articles} articles x {args.rounds}, {args.side} side)"
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")  # the same string hashes, the same counts
    raise SystemExit(main())
