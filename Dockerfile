# syntax=docker/dockerfile:1
#
# newsworker image: `docker build -t newsworker .` then `docker run newsworker` runs
# `newsworker worker` (configure it with NEWSWORKER_* variables, see README.md).
#
# Two stages so that the final image carries no compiler nor pip cache: the builder installs the
# runtime dependencies only (no test, demo or evaluation extras), pinned by constraints.txt (the same
# file CI installs with), into a virtualenv at /opt/venv; the runtime stage copies that virtualenv
# onto the same base. Both stages use the same base image, so the virtualenv's interpreter symlink
# is valid in both: /usr/local/bin/python3 on the official python image, /usr/bin/python3 on a
# Debian base with Debian's python3 (what scripts/build-image.sh builds on where no registry is
# reachable: `--build-arg PYTHON_IMAGE=<local base>`). Every command below works on both.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

# Build-time only (ARG, not ENV: nothing of it is kept in the image): a CA bundle path and a proxy
# for pip where the build host needs them (scripts/build-image.sh passes the host's).
ARG PIP_CERT PIP_INDEX_URL HTTP_PROXY HTTPS_PROXY NO_PROXY

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_PREFER_BINARY=1 \
    PATH=/opt/venv/bin:$PATH

# Every dependency ships wheels for linux x86_64 and aarch64; the compiler is for newsworker's own
# C extension (worker/dedup/_shingles.c: the fingerprints' shingle hashing), which needs xxHash's
# header and the Python headers too. This stage only: the runtime stage gets the built virtualenv.
# The official image has the Python headers and venv's ensurepip built in; Debian's python3 keeps
# them in python3-dev and python3-venv.
RUN pkgs="gcc libc6-dev libxxhash-dev" \
 && { python3 -c 'import ensurepip' 2>/dev/null || pkgs="$pkgs python3-venv"; } \
 && { python3 -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(sysconfig.get_path("include") + "/Python.h"))' \
      || pkgs="$pkgs python3-dev"; } \
 && apt-get update \
 && apt-get install -y --no-install-recommends $pkgs \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/venv

WORKDIR /src

# Dependencies first, in their own layer: rebuilt only when pyproject.toml or the pins change, not
# on every code edit. The list is pyproject.toml's runtime dependencies, at constraints.txt's pins;
# pins of packages it does not ask for (the tools' extras) are not installed.
COPY constraints.txt pyproject.toml ./
RUN python3 -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"], sep="\n")' > requirements.txt \
 && pip install -c constraints.txt -r requirements.txt

# Then the project itself, without touching the pinned dependencies; `pip check` fails the build
# if the pins no longer satisfy pyproject.toml, the import if a C extension was not built (it is
# optional to pip, which would only warn). Bytecode stays compiled: the root filesystem is
# read-only at run time, so nothing imported could be cached later. pip and setuptools (which venv
# puts in) are not needed to run: nothing imports pkg_resources.
COPY README.md ./
COPY worker ./worker
RUN pip install --no-deps . \
 && python3 -I -c 'import worker.dedup._shingles, worker.dedup._store_ops, worker.normalize._text_passes' \
 && pip check \
 && pip uninstall --yes --quiet setuptools pip

# --------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# tini is PID 1: it forwards SIGTERM to the worker (which then drains, see deploy/README.md) and
# reaps zombies. Python as PID 1 would ignore SIGTERM's default action and never reap.
# apt's lists and caches (~75 MB of /var/cache/apt/*.bin) go in the same layer they come in.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /var/log/apt /var/log/dpkg.log

# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot/runAsUser can verify it without a passwd
# lookup. The worker writes only to /tmp (faust's scratch dir, NEWSWORKER_DATA_DIR) and its working
# directory; both are volumes in Kubernetes and tmpfs in compose, where the root fs is read-only.
RUN groupadd --system --gid 10001 newsworker \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /var/lib/newsworker --shell /usr/sbin/nologin newsworker \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/newsworker

COPY --from=builder /opt/venv /opt/venv

# Sample articles at a stable path, so the compose feeder can run `newsworker produce /app/samples`
# from this same image.
COPY worker/samples /app/samples

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NEWSWORKER_METRICS_PORT=9464 \
    NEWSWORKER_LOG_FORMAT=json

WORKDIR /var/lib/newsworker
USER 10001:10001

# /metrics, /healthz and /readyz
EXPOSE 9464

STOPSIGNAL SIGTERM

# Liveness of the process, not of Kafka/Redis (that is /readyz). Plain http.client rather than
# curl (not in the slim image) or urllib (which would honour an HTTP_PROXY set for the worker).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import http.client, os, sys; c = http.client.HTTPConnection('127.0.0.1', int(os.environ.get('NEWSWORKER_METRICS_PORT', '9464')), timeout=3); c.request('GET', '/healthz'); sys.exit(0 if c.getresponse().status == 200 else 1)"]

ENTRYPOINT ["tini", "--", "newsworker"]
CMD ["worker"]
