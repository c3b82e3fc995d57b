"""Builds `base/prometheusrule.yaml`, the alert rules of newsworker for the Prometheus Operator.

`deploy/prometheus/alerts.yml` is the source (the compose stack's Prometheus loads it, and
`promtool test rules` tests it); this script wraps its groups, unchanged, in a
`monitoring.coreos.com/v1` PrometheusRule. The output is committed (kustomize reads it): change
a rule in alerts.yml, then run `python deploy/k8s/prometheusrule.py --write`.
`tests/deploy/test_deploy_files.py` fails when the committed file differs from what this script
produces, and checks that the rendered object's groups are alerts.yml's.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[1]
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
OUTPUT = DEPLOY / "k8s" / "base" / "prometheusrule.yaml"

HEADER = """\
# Generated from deploy/prometheus/alerts.yml by deploy/k8s/prometheusrule.py: do not edit here.
# Change the rule in alerts.yml, test it (`promtool test rules deploy/prometheus/alerts_test.yml`),
# then run `python deploy/k8s/prometheusrule.py --write`.
#
# Prometheus Operator: the alert rules of docs/OBSERVABILITY.md. Your Prometheus object must select
# this PrometheusRule (its ruleSelector, often a `release: <name>` label; add it in an overlay) and
# its namespace (ruleNamespaceSelector). The rules select job="newsworker", the job the
# ServiceMonitor gives the workers (its jobLabel).
"""


#: Everything of the object but its groups; they follow under `spec:`.
PREAMBLE = """\
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: newsworker
  labels:
    app.kubernetes.io/name: newsworker
    app.kubernetes.io/component: worker
spec:
"""


def groups_text() -> str:
    """alerts.yml from its `groups:` key on, as written (comments, folded texts and all)."""
    text = ALERTS.read_text(encoding="utf-8")
    start = re.search(r"^groups:", text, re.MULTILINE)
    if start is None:
        raise SystemExit(f"{ALERTS}: no top-level `groups:`")
    rest = text[start.start() :]
    if re.search(r"^[^\s#]", rest[len("groups:") :], re.MULTILINE):
        raise SystemExit(f"{ALERTS}: a top-level key after `groups:`, which this script would nest")
    return rest


def render() -> str:
    # Indenting every line by two keeps the YAML's meaning under `spec:`: block scalars take
    # their indentation from their first line.
    groups = "".join(f"  {line}" if line.strip() else line for line in groups_text().splitlines(True))
    return HEADER + PREAMBLE + groups


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {OUTPUT}")
    args = parser.parse_args(argv)
    if args.write:
        OUTPUT.write_text(render(), encoding="utf-8")
    else:
        sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
