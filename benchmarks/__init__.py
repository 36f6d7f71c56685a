"""Benchmarks of the invoicing engine (docs/performance.md): tooling, not part of the product.

- `generation`: `manage.py bench_generation`, the engine against PostgreSQL's set-based floor;
- `batch_runs`: `manage.py bench_batch_run`, a batch run on real Celery workers against the
  bare engine;
- `worker`: imported by the batch benchmark's worker processes (`-I benchmarks.worker`).
"""
