"""Probes: every API backend asked directly (not through the VIP) whether it is there, in a
process of their own, so an outage HAProxy's retries hide from the clients is still seen
(the disruption oracle, harness/checks/oracles/disruption.py)."""
