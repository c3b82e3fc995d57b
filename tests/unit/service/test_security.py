"""Security settings: secrets from the environment or files, Kafka SASL/SCRAM + TLS, Redis ACL + TLS.

Pure tests build `Settings` from a patched environment and check what the client libraries get.
The masking tests check the three places a secret could leak: reprs, log output (of building the
whole Faust app), and the `/metrics` exposition. Two tests run a real redis-server (ACL user with
a password from a file, and TLS with a throw-away CA) because that is where AUTH and certificate
checks really happen; they take well under a second.
"""

from __future__ import annotations

import ast
import asyncio
import logging
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from packaging.utils import canonicalize_name, canonicalize_version
from prometheus_client import generate_latest

from tests.conftest import REPO_ROOT
from worker.config import Settings
from worker.service.security import (
    SecurityConfigError,
    aiokafka_security_kwargs,
    faust_security_options,
    kafka_security,
    read_secret,
    redis_connection,
    redis_security,
)
from worker.tools.embedded import EmbeddedRedis, find_free_port

SASL_SECRET = "kafka-Pa55-w0rd-7f3a"
REDIS_SECRET = "redis-Pa55-w0rd-91bc"
URL_SECRET = "url-Pa55-w0rd-c0de"
WORKER_ROOT = REPO_ROOT / "worker"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """A clean NEWSWORKER_* environment for `Settings()`."""
    import os

    for name in list(os.environ):
        if name.startswith("NEWSWORKER_"):
            monkeypatch.delenv(name)
    yield monkeypatch


def secret_file(tmp_path: Path, name: str, value: str) -> Path:
    path = tmp_path / name
    path.write_text(value + "\n", encoding="utf-8")  # as `echo` and most secret stores write it
    path.chmod(0o600)
    return path


# --- secrets from env or files -------------------------------------------------------------------


def test_secret_from_env_or_file_never_both(tmp_path: Path) -> None:
    from pydantic import SecretStr

    path = secret_file(tmp_path, "pw", "from-file")
    assert read_secret(SecretStr("direct"), None, "X").get_secret_value() == "direct"  # type: ignore[union-attr]
    assert read_secret(None, path, "X").get_secret_value() == "from-file"  # type: ignore[union-attr]
    assert read_secret(None, None, "X") is None
    with pytest.raises(SecurityConfigError, match="NEWSWORKER_X or NEWSWORKER_X_FILE, not both"):
        read_secret(SecretStr("direct"), path, "X")


def test_unreadable_secret_file_names_the_path_not_the_contents(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(SecurityConfigError, match=r"NEWSWORKER_REDIS_PASSWORD_FILE=.*nope: cannot read"):
        read_secret(None, missing, "REDIS_PASSWORD")


# --- Kafka ---------------------------------------------------------------------------------------


def test_sasl_scram_over_tls_reaches_aiokafka_through_faust(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    env.setenv("NEWSWORKER_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    env.setenv("NEWSWORKER_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    env.setenv("NEWSWORKER_KAFKA_SASL_USERNAME", "newsworker")
    env.setenv("NEWSWORKER_KAFKA_SASL_PASSWORD_FILE", str(secret_file(tmp_path, "sasl", SASL_SECRET)))
    settings = Settings()
    options = faust_security_options(settings)
    auth = credentials_to_aiokafka_auth(options["broker_credentials"])
    assert auth["security_protocol"] == "SASL_SSL"
    assert auth["sasl_mechanism"] == "SCRAM-SHA-256"
    assert auth["sasl_plain_username"] == "newsworker" and auth["sasl_plain_password"] == SASL_SECRET
    context = auth["ssl_context"]
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname

    kwargs = aiokafka_security_kwargs(settings)
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-256" and kwargs["security_protocol"] == "SASL_SSL"
    from aiokafka import AIOKafkaProducer

    async def construct() -> None:  # aiokafka validates the combination when constructed
        producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", **kwargs)
        await producer.stop()  # never started, but an unclosed producer warns when collected

    asyncio.run(construct())


def test_tls_only_and_plaintext(env: pytest.MonkeyPatch) -> None:
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    assert faust_security_options(Settings()) == {}
    assert aiokafka_security_kwargs(Settings()) == {"security_protocol": "PLAINTEXT"}
    env.setenv("NEWSWORKER_KAFKA_SECURITY_PROTOCOL", "SSL")
    env.setenv("NEWSWORKER_KAFKA_SSL_CHECK_HOSTNAME", "false")
    auth = credentials_to_aiokafka_auth(faust_security_options(Settings())["broker_credentials"])
    assert auth["security_protocol"] == "SSL" and auth["ssl_context"].check_hostname is False


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "needs NEWSWORKER_KAFKA_SASL_USERNAME"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "u"}, "NEWSWORKER_KAFKA_SASL_PASSWORD"),
        ({"KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}, "set it to SASL_SSL"),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": "/nonexistent/ca.pem"}, "TLS files cannot be loaded"),
    ],
)
def test_inconsistent_kafka_settings_fail_at_start_with_the_variable_to_fix(
    env: pytest.MonkeyPatch, variables: dict[str, str], message: str
) -> None:
    for name, value in variables.items():
        env.setenv(f"NEWSWORKER_{name}", value)
    with pytest.raises(SecurityConfigError, match=message):
        kafka_security(Settings())


# --- Redis ---------------------------------------------------------------------------------------


def test_redis_acl_user_and_password_file(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("NEWSWORKER_REDIS_URL", "redis://redis.internal:6380/2")
    env.setenv("NEWSWORKER_REDIS_USERNAME", "newsworker")
    env.setenv("NEWSWORKER_REDIS_PASSWORD_FILE", str(secret_file(tmp_path, "redis", REDIS_SECRET)))
    url, kwargs = redis_connection(Settings())
    assert url == "redis://redis.internal:6380/2"
    # read again at every new connection (a rotated Secret), never passed as a plain password
    assert set(kwargs) == {"credential_provider"}
    assert kwargs["credential_provider"].get_credentials() == ("newsworker", REDIS_SECRET)


def test_redis_tls_switches_the_scheme_and_passes_the_ca(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("NEWSWORKER_REDIS_URL", "redis://redis.internal:6380/0")
    env.setenv("NEWSWORKER_REDIS_TLS", "true")
    env.setenv("NEWSWORKER_REDIS_SSL_CAFILE", "/etc/ca.pem")
    url, kwargs = redis_connection(Settings())
    assert url == "rediss://redis.internal:6380/0"
    assert kwargs == {"ssl_cert_reqs": "required", "ssl_check_hostname": True, "ssl_ca_certs": "/etc/ca.pem"}
    env.delenv("NEWSWORKER_REDIS_TLS")
    env.setenv("NEWSWORKER_REDIS_URL", "rediss://redis.internal:6380/0")
    assert redis_security(Settings()).tls


def test_redis_url_from_a_file_and_no_password_twice(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("NEWSWORKER_REDIS_URL_FILE", str(secret_file(tmp_path, "url", f"redis://:{URL_SECRET}@r:6379/0")))
    url, kwargs = redis_connection(Settings())
    assert URL_SECRET in url and kwargs == {}
    env.setenv("NEWSWORKER_REDIS_PASSWORD", REDIS_SECRET)
    with pytest.raises(SecurityConfigError, match="both in NEWSWORKER_REDIS_URL and in NEWSWORKER_REDIS_PASSWORD"):
        redis_connection(Settings())
    env.setenv("NEWSWORKER_REDIS_URL", "redis://r:6379/0")
    with pytest.raises(SecurityConfigError, match="not both"):
        redis_connection(Settings())


# --- secrets are masked in reprs, logs and /metrics ---------------------------------------------------


def secured_env(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("NEWSWORKER_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    env.setenv("NEWSWORKER_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    env.setenv("NEWSWORKER_KAFKA_SASL_USERNAME", "newsworker")
    env.setenv("NEWSWORKER_KAFKA_SASL_PASSWORD", SASL_SECRET)
    env.setenv("NEWSWORKER_REDIS_URL", f"redis://:{URL_SECRET}@127.0.0.1:1/0")
    env.setenv("NEWSWORKER_REDIS_USERNAME", "newsworker")
    env.setenv("NEWSWORKER_DATA_DIR", str(tmp_path / "data"))


def test_secrets_are_masked_in_reprs(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secured_env(env, tmp_path)
    env.setenv("NEWSWORKER_REDIS_URL", "redis://127.0.0.1:1/0")
    env.setenv("NEWSWORKER_REDIS_PASSWORD", REDIS_SECRET)
    settings = Settings()
    shown = " ".join([
        repr(settings), str(settings), repr(settings.model_dump()), repr(kafka_security(settings)),
        repr(redis_security(settings)), repr(faust_security_options(settings)),
    ])
    for secret in (SASL_SECRET, REDIS_SECRET):
        assert secret not in shown
    assert "**********" in shown


def test_secrets_never_reach_logs_or_metrics(
    env: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Build the whole app (Faust, store, metrics) at DEBUG and look for the secrets everywhere."""
    from prometheus_client import CollectorRegistry

    from worker.service.app import build_app

    secured_env(env, tmp_path)
    registry = CollectorRegistry()
    with caplog.at_level(logging.DEBUG):
        app = build_app(Settings(), registry=registry)
        logging.getLogger("newsworker").info("settings: %r", Settings())
        metrics, _readiness, handler = app._newsworker  # type: ignore[attr-defined]
        metrics.redis_call("claim", 0.01, False)  # an error sample, as during an outage
    exposition = generate_latest(registry).decode()
    client_repr = repr(handler._store._client)
    outputs = "\n".join([caplog.text, exposition, client_repr, repr(app.conf.broker_credentials)])
    for secret in (SASL_SECRET, URL_SECRET):
        assert secret not in outputs
    assert "newsworker_build_info" in exposition  # the exposition was really produced


# --- no pickle / eval of input -------------------------------------------------------------------


def test_no_pickle_eval_or_unsafe_yaml_in_the_worker() -> None:
    """Input is parsed by msgspec's JSON decoder only; nothing can execute or unpickle it."""
    banned_modules = {"pickle", "cPickle", "dill", "marshal", "shelve", "jsonpickle"}
    found: list[str] = []
    for path in sorted(WORKER_ROOT.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                found += [f"{path.name}: import {n}" for n in names if n.split(".")[0] in banned_modules]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("eval", "exec"):
                found.append(f"{path.name}:{node.lineno}: {node.func.id}()")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in ("load", "unsafe_load") and isinstance(node.func.value, ast.Name)
                  and node.func.value.id == "yaml"):
                found.append(f"{path.name}:{node.lineno}: yaml.{node.func.attr}()")
    assert not found


# --- against a real redis-server -------------------------------------------------------------------


@pytest.mark.integration
def test_real_redis_acl_user_with_password_from_file(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with EmbeddedRedis() as server:
        admin = redis.Redis(host="127.0.0.1", port=server.port)
        admin.execute_command("ACL", "SETUSER", "newsworker", "on", f">{REDIS_SECRET}", "~*", "&*", "+@all")
        admin.execute_command("ACL", "SETUSER", "default", "off")  # nobody gets in without a user
        admin.close()
        env.setenv("NEWSWORKER_REDIS_URL", server.url)
        env.setenv("NEWSWORKER_REDIS_USERNAME", "newsworker")
        env.setenv("NEWSWORKER_REDIS_PASSWORD_FILE", str(secret_file(tmp_path, "pw", REDIS_SECRET)))
        url, kwargs = redis_connection(Settings())
        with redis.Redis.from_url(url, **kwargs) as client:
            assert client.acl_whoami() in ("newsworker", b"newsworker")
        with pytest.raises(redis.exceptions.AuthenticationError), redis.Redis.from_url(url) as anonymous:
            anonymous.ping()
        wrong = {"username": "newsworker", "password": "wrong"}
        with pytest.raises(redis.exceptions.AuthenticationError) as caught, redis.Redis.from_url(url, **wrong) as bad:
            bad.ping()
        assert "wrong" not in str(caught.value) and REDIS_SECRET not in str(caught.value)


@pytest.mark.integration
def test_a_password_rotated_in_its_file_is_used_by_the_next_connection(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The password file was read once at start: after a rotation (the server's password changed,
    the Secret's file updated, the old connections dropped) every reconnection was refused, and
    the worker waited, live and not ready, until restarted by hand (an operator-fault review).
    Refused credentials are a refusal of kind `auth` (NewsworkerRedisRefusingWrites), not an
    outage."""
    import asyncio

    from worker.dedup.store import connect
    from worker.errors import DedupStoreRefused

    with EmbeddedRedis() as server:
        admin = redis.Redis(host="127.0.0.1", port=server.port)
        admin.config_set("requirepass", "first-secret")
        admin = redis.Redis(host="127.0.0.1", port=server.port, password="first-secret")
        password_file = secret_file(tmp_path, "pw", "first-secret")
        env.setenv("NEWSWORKER_REDIS_URL", server.url)
        env.setenv("NEWSWORKER_REDIS_PASSWORD_FILE", str(password_file))
        url, kwargs = redis_connection(Settings())

        async def rotate_then_ping() -> None:
            client = connect(url, **kwargs)
            try:
                assert await client.ping()
                admin.config_set("requirepass", "second-secret")
                admin.execute_command("AUTH", "second-secret")
                admin.client_kill_filter(_type="normal", skipme=True)  # the worker's connections
                errors = []
                for _ in range(2):  # the dropped connection first, maybe; then a new one's AUTH
                    with pytest.raises(redis.exceptions.ConnectionError) as failed:
                        await client.ping()  # the file not updated yet
                    errors.append(failed.value)
                assert isinstance(errors[-1], redis.exceptions.AuthenticationError)
                tmp = tmp_path / "pw.new"
                tmp.write_text("second-secret\n", encoding="utf-8")
                tmp.replace(password_file)  # as a Secret volume updates it: a new file moved in place
                assert await client.ping()
            finally:
                await client.aclose()

        asyncio.run(rotate_then_ping())
        admin.close()
    from worker.dedup.store import RedisDedupStore

    store = object.__new__(RedisDedupStore)
    store._observe = None  # type: ignore[attr-defined]
    with pytest.raises(DedupStoreRefused) as refused, store._errors_mapped("record", 0.0):
        raise redis.exceptions.AuthenticationError("invalid username-password pair or user is disabled.")
    assert refused.value.kind == "auth"


def make_tls_files(directory: Path) -> dict[str, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1, made with the openssl CLI."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl CLI not installed; needed to make a throw-away CA")
    files = {n: directory / n for n in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt", "ext")}
    files["ext"].write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for argv in (
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", files["ca.key"], "-out", files["ca.crt"],
         "-days", "1", "-subj", "/CN=newsworker-test-ca"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", files["server.key"], "-out", files["server.csr"],
         "-subj", "/CN=localhost"],
        ["x509", "-req", "-in", files["server.csr"], "-CA", files["ca.crt"], "-CAkey", files["ca.key"],
         "-CAcreateserial", "-out", files["server.crt"], "-days", "1", "-extfile", files["ext"]],
    ):
        subprocess.run([openssl, *map(str, argv)], check=True, capture_output=True, timeout=30)
    return files


@pytest.mark.integration
def test_real_redis_over_tls_verifies_the_server(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    files = make_tls_files(tmp_path)
    tls_port = find_free_port()
    server = EmbeddedRedis(extra_args=[
        "--tls-port", str(tls_port), "--tls-cert-file", str(files["server.crt"]),
        "--tls-key-file", str(files["server.key"]), "--tls-ca-cert-file", str(files["ca.crt"]),
        "--tls-auth-clients", "no",
    ])
    try:
        server.start()
    except Exception as exc:  # a redis-server built without TLS refuses the options
        pytest.skip(f"redis-server without TLS support: {str(exc)[:200]}")
    with server:
        env.setenv("NEWSWORKER_REDIS_URL", f"redis://127.0.0.1:{tls_port}/0")
        env.setenv("NEWSWORKER_REDIS_TLS", "true")
        env.setenv("NEWSWORKER_REDIS_SSL_CAFILE", str(files["ca.crt"]))
        url, kwargs = redis_connection(Settings())
        with redis.Redis.from_url(url, **kwargs) as client:
            assert client.ping()
        env.delenv("NEWSWORKER_REDIS_SSL_CAFILE")  # system CAs do not know the throw-away CA
        url, kwargs = redis_connection(Settings())
        with pytest.raises(redis.exceptions.ConnectionError, match="certificate verify failed"), \
                redis.Redis.from_url(url, **kwargs) as untrusted:
            untrusted.ping()


# --- dependency audit --------------------------------------------------------------------------------

#: Advisories accepted after review, each with the reason (pip-audit --ignore-vuln). Empty today.
AUDIT_ACCEPTED: dict[str, str] = {}

PYPI_JSON = "https://pypi.org/pypi/{name}/json"

_NETWORK_TROUBLE = ("ConnectionError", "HTTPSConnectionPool", "NameResolutionError", "Max retries exceeded",
                    "Temporary failure in name resolution", "timed out", "Network is unreachable")


@dataclass
class Audit:
    """What an audit really looked at: only packages with a verdict count as checked."""

    checked: dict[str, list[str]] = field(default_factory=dict)  # name==version -> advisory ids
    unchecked: dict[str, str] = field(default_factory=dict)  # name==version -> why not

    @property
    def vulnerable(self) -> dict[str, list[str]]:
        return {dep: [v for v in ids if v not in AUDIT_ACCEPTED] for dep, ids in self.checked.items()
                if any(v not in AUDIT_ACCEPTED for v in ids)}


def audit_of_pip_audit(report: dict[str, Any]) -> Audit:
    """pip-audit's `--format json`: a dependency with `skip_reason` was not checked at all (offline,
    or a version its service does not know), whatever the exit code says."""
    audit = Audit()
    for dep in report["dependencies"]:
        name = f"{dep['name']}=={dep.get('version', '?')}"
        if "skip_reason" in dep or "vulns" not in dep:
            audit.unchecked[name] = dep.get("skip_reason", "no verdict")
        else:
            audit.checked[name] = [v["id"] for v in dep["vulns"]]
    return audit


def audit_of_pypi_projects(installed: dict[str, str], fetch: Any) -> Audit:
    """PyPI's project API (`/pypi/NAME/json`) lists the advisories that affect the project's latest
    release, from the same advisory database pip-audit reads per version. Where the per-version API
    is not served (pip-audit then skips every package), this still checks each package pinned at
    its latest release; an older pin is reported as unchecked, never counted."""
    audit = Audit()
    for name, version in sorted(installed.items()):
        key = f"{name}=={version}"
        try:
            data = fetch(name)
        except Exception as exc:  # a package PyPI does not have, or the network
            audit.unchecked[key] = f"{type(exc).__name__}: {exc}"[:200]
            continue
        latest = data["info"]["version"]
        if canonicalize_version(latest) != canonicalize_version(version) or "vulnerabilities" not in data:
            audit.unchecked[key] = f"PyPI's project data covers {latest} only"
            continue
        audit.checked[key] = [v["id"] for v in data["vulnerabilities"] if not v.get("withdrawn")]
    return audit


def _fetch_pypi_project(name: str) -> dict[str, Any]:
    import json
    import urllib.request

    with urllib.request.urlopen(PYPI_JSON.format(name=name), timeout=15) as response:
        return json.loads(response.read())


def test_audit_counts_only_real_checks() -> None:
    report = {"dependencies": [
        {"name": "a", "version": "1", "vulns": []},
        {"name": "b", "version": "2", "vulns": [{"id": "GHSA-x"}]},
        {"name": "c", "skip_reason": "Dependency not found on PyPI and could not be audited: c (3)"},
    ]}
    audit = audit_of_pip_audit(report)
    assert set(audit.checked) == {"a==1", "b==2"} and set(audit.unchecked) == {"c==?"}
    assert audit.vulnerable == {"b==2": ["GHSA-x"]}
    offline = audit_of_pip_audit({"dependencies": [report["dependencies"][2]]})
    assert not offline.checked  # pip-audit exits 0 here: it must not count as an audit

    projects = {"new": {"info": {"version": "2.0"}, "vulnerabilities": [{"id": "PYSEC-1"}, {"id": "W", "withdrawn": "x"}]},
                "old": {"info": {"version": "9.0"}, "vulnerabilities": []}}

    def fetch(name: str) -> dict[str, Any]:
        if name not in projects:
            raise OSError("HTTP Error 404")
        return projects[name]

    audit = audit_of_pypi_projects({"new": "2.0.0", "old": "1.0", "gone": "1"}, fetch)
    assert audit.checked == {"new==2.0.0": ["PYSEC-1"]}
    assert set(audit.unchecked) == {"old==1.0", "gone==1"}


@pytest.mark.timeout(300)
def test_installed_dependencies_have_no_known_vulnerabilities(tmp_path: Path) -> None:
    """The runtime and test environment against PyPI's vulnerability data (needs the network).

    pip-audit first; where it could check nothing (its per-version API not served: every package
    "not found on PyPI"), PyPI's project API for the packages pinned at their latest release.
    Fails on any advisory not in `AUDIT_ACCEPTED`; when nothing at all could be checked, skips
    saying why (fails under CI=true): an audit that looked at nothing is not a pass.
    """
    import importlib.metadata
    import importlib.util
    import json
    import sys
    from concurrent.futures import ThreadPoolExecutor

    from tests.conftest import skip_or_fail

    if importlib.util.find_spec("pip_audit") is None:
        skip_or_fail("pip-audit not installed (it is in the `test` extra)")
    command = [sys.executable, "-m", "pip_audit", "--local", "--skip-editable", "--format", "json",
               "--progress-spinner", "off", "--cache-dir", str(tmp_path / "cache")]
    for advisory in AUDIT_ACCEPTED:
        command += ["--ignore-vuln", advisory]
    audit, how = Audit(), "pip-audit"
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=150)
        if result.returncode in (0, 1) and result.stdout.strip():
            audit = audit_of_pip_audit(json.loads(result.stdout))
        elif not any(marker in result.stderr for marker in _NETWORK_TROUBLE):
            pytest.fail(f"pip-audit failed (exit {result.returncode}): {result.stderr[-2000:]}")
    except subprocess.TimeoutExpired:
        pass
    if not audit.checked:
        installed = {canonicalize_name(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()
                     if d.metadata["Name"] and canonicalize_name(d.metadata["Name"]) not in ("newsworker", "pip")}
        with ThreadPoolExecutor(8) as pool:
            fetched = dict(zip(installed, pool.map(_safe_fetch, installed), strict=True))
        audit, how = audit_of_pypi_projects(installed, lambda name: _raise_or_return(fetched[name])), "PyPI projects"
    if not audit.checked:
        reasons = sorted({why for why in audit.unchecked.values()})[:3]
        skip_or_fail(f"the dependency audit could check no package ({len(audit.unchecked)} unchecked): {reasons}")
    print(f"audit ({how}): {len(audit.checked)} checked, {len(audit.unchecked)} not checked: {audit.unchecked}")
    assert not audit.vulnerable, f"known vulnerabilities (upgrade, or accept in AUDIT_ACCEPTED): {audit.vulnerable}"
    # Most of the environment is pinned at current releases (see README, "What is pinned and why").
    assert len(audit.checked) >= 20, (len(audit.checked), audit.unchecked)


def _safe_fetch(name: str) -> dict[str, Any] | Exception:
    try:
        return _fetch_pypi_project(name)
    except Exception as exc:
        return exc


def _raise_or_return(value: dict[str, Any] | Exception) -> dict[str, Any]:
    if isinstance(value, Exception):
        raise value
    return value
