"""The streaming service: the Faust app and everything that runs beside the pure pipeline.

`app` (Faust wiring, settings to options, `run_worker`), `batches` (overlapping batch stages,
acks and commit guarantees), `publisher` (sends outcomes to their topics), `preparer` (where the
pure stages run: inline or in prepare processes), `metrics` and `health` (Prometheus, `/metrics`
`/healthz` `/readyz`), `security` (SASL/TLS/ACL connection settings).
"""
