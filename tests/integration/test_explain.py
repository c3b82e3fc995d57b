"""`newsworker explain` as a user runs it, on two articles remembered in a Redis window."""

from __future__ import annotations

from pathlib import Path

from tests.support.processes import run_cli
from worker.cli import main


def test_explain_two_articles_remembered_in_a_redis_window(seeds_dir: Path, redis_server: object) -> None:
    url = redis_server.url  # type: ignore[attr-defined]
    assert main(["dedup", "--input", str(seeds_dir), "--output", "-", "--redis-url", url]) == 0
    # a running worker's Redis watch keeps a string key beside the hashes (so does the index's
    # generation length): explain reads the hashes only (it failed with WRONGTYPE on them)
    import redis

    from worker.dedup.fingerprint import DEFAULT_SCHEME
    from worker.dedup.store import LAYOUT

    with redis.Redis.from_url(url) as plain:
        plain.set(f"nw:{DEFAULT_SCHEME.version}:c{LAYOUT}:sentinel", "token")
    ids = ["--id", "astana-talks.raw", "--id", "astana-talks.paragraphs"]
    result = run_cli("explain", "--redis-url", url, *ids)
    assert result.returncode == 0, result.stderr
    assert "duplicate" in result.stdout and "sketches" in result.stdout
    missing = run_cli("explain", "--redis-url", url, "--id", "astana-talks.raw", "--id", "never-seen")
    assert missing.returncode == 1 and "never-seen" in missing.stdout


def test_commands_whose_redis_is_down_say_so_in_a_line(seeds_dir: Path) -> None:
    from worker.tools.embedded import find_free_port

    url = f"redis://127.0.0.1:{find_free_port()}"  # nothing listens there
    for args in (["explain", "--redis-url", url, "--id", "a", "--id", "b"],
                 ["dedup", "--input", str(seeds_dir), "--output", "-", "--redis-url", url]):
        result = run_cli(*args)
        assert result.returncode == 69, result.stderr  # EX_UNAVAILABLE, not a traceback
        assert "Redis is unavailable" in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_commands_given_a_wrong_redis_url_say_so_in_a_line(seeds_dir: Path, redis_server: object) -> None:
    url = redis_server.url  # type: ignore[attr-defined]
    no_such_db = url.rstrip("/").rsplit("/", 1)[0] + "/99" if url.count("/") > 2 else url + "/99"
    for command in (["explain", "--id", "a", "--id", "b"], ["dedup", "--input", str(seeds_dir), "--output", "-"]):
        bad_scheme = run_cli(*command, "--redis-url", "localhost:6379")  # a typo, no scheme
        assert bad_scheme.returncode == 2 and "redis://" in bad_scheme.stderr, bad_scheme.stderr
        refused = run_cli(*command, "--redis-url", no_such_db)  # a server with 16 databases
        assert refused.returncode == 69, refused.stderr
        assert "DB index is out of range" in refused.stderr and "Traceback" not in refused.stderr, refused.stderr


def test_explain_reads_a_password_protected_window_with_the_settings_credentials(
    seeds_dir: Path, tmp_path: Path
) -> None:
    """`explain --redis-url` connected without the settings' credentials (`dedup --redis-url` used
    them): a password-protected Redis read as "unavailable" (a review's finding)."""
    import os
    import subprocess
    import sys

    import redis

    from tests.support.processes import ROOT
    from worker.tools.embedded import EmbeddedRedis

    password = tmp_path / "redis-password"
    password.write_text("s3cret-for-explain\n", encoding="utf-8")
    with EmbeddedRedis() as server:
        with redis.Redis(host="127.0.0.1", port=server.port) as admin:
            admin.config_set("requirepass", "s3cret-for-explain")
        env = {**os.environ, "COLUMNS": "160", "NEWSWORKER_REDIS_PASSWORD_FILE": str(password)}

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "worker", *args], capture_output=True, text=True,
                                  timeout=180, cwd=ROOT, env=env)

        stored = cli("dedup", "--input", str(seeds_dir), "--output", "-", "--redis-url", server.url)
        assert stored.returncode == 0, stored.stderr
        result = cli("explain", "--redis-url", server.url, "--id", "astana-talks.raw", "--id", "astana-talks.paragraphs")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "duplicate" in result.stdout
