"""Oracles: each reads the recorded ledgers and events and returns a Verdict with evidence.
They run on saved files, so a run can be judged again offline."""
