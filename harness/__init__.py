"""The processes tests and benchmarks start or fake (`harness.processes`): not part of the
product, imported by `tests/` and `bench/` alike, never by `apps/` or `project/`."""
