# syntax=docker/dockerfile:1
#
# newsworker image: `docker build -t newsworker .` then `docker run newsworker` runs
# `newsworker worker` (configure it with NEWSWORKER_* variables, see README.md).
#
# Two stages so that the final image carries no compiler: the builder installs every dependency,
# pinned by constraints.txt (the same file CI installs with), into a virtualenv at /opt/venv;
# the runtime stage copies that virtualenv onto the same slim base. Both stages use the same base
# image, so the virtualenv's interpreter symlink (/usr/local/bin/python3.11) is valid in both.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

# Compilers only for packages without a wheel for this platform; this stage is thrown away.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv

WORKDIR /src

# Dependencies first, in their own layer: it is rebuilt only when the pins change, not on every
# code edit. constraints.txt is a plain requirements list of exact versions.
COPY constraints.txt ./
RUN pip install -r constraints.txt

# Then the project itself, without touching the pinned dependencies; `pip check` fails the build
# if the pins no longer satisfy pyproject.toml.
COPY pyproject.toml README.md ./
COPY worker ./worker
RUN pip install --no-deps . \
 && pip check

# --------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# tini is PID 1: it forwards SIGTERM to the worker (which then drains, see deploy/README.md) and
# reaps zombies. Python as PID 1 would ignore SIGTERM's default action and never reap.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

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
    NEWSWORKER_METRICS_PORT=9464

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
