"""A run from end to end: the job's phases, watching the roll, resource survival, the
selftest catalog, and `harness prepare`."""
