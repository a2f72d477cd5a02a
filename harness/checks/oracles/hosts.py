"""Oracle 5, hosts: every node ended where the plan says — every service process on the
target release, every planned option in place, every API listening, every HAProxy
backend UP. The checks are run live on the nodes after the roll (harness/backends/hostcheck.py,
through each node's testinfra host) and saved; this oracle judges the saved result.

hosts.json, as `hostcheck.check_hosts` returns it:

    {
      "target": "2026.2",                    # the release every process should run
      "started": 1767225600.123,             # when the checks started (epoch seconds)
      "duration": 1.84,                      # how long they took (seconds)
      "hosts": {"controller": "netns://uh-br0-controller", ...},   # node → testinfra URL
      "checks": [                            # one entry per check, in node order
        {"node": "controller", "check": "release nova-api",
         "expected": "2026.2", "actual": "2026.1", "ok": false},
        {"node": "controller", "check": "config nova [upgrade_levels] compute",
         "expected": "auto", "actual": "unset", "ok": false},
        {"node": "compute-api", "check": "listening nova-api 10.250.0.12:8774",
         "expected": "listening", "actual": "listening", "ok": true},
        {"node": "controller", "check": "backend nova-api/compute-api",
         "expected": "UP", "actual": "UP", "ok": true}
      ]
    }

`check` is "<kind> <subject>", kind one of release (a process), config (service, section,
option), listening (what, address:port), backend (frontend/server). `expected` and
`actual` are strings; a check whose probe errored has `actual` "error: …" and ok false.
Only `checks` is judged: any ok false fails the run; no checks at all is unknown.
"""

from __future__ import annotations

from collections import Counter

from harness.checks.record import RunRecord
from harness.checks.verdict import FAIL, PASS, UNKNOWN, Verdict

NAME = "hosts"
UNIT = "checks"  # what one piece of its evidence is
EVIDENCE = 50  # the failing checks carried as evidence, in the order they ran


def check(record: RunRecord) -> Verdict:
    hosts = record.hosts
    if hosts is None:
        return Verdict(NAME, UNKNOWN, "the hosts were not checked (no hosts.json)")
    checks = hosts["checks"]
    if not checks:
        return Verdict(NAME, UNKNOWN, "no host check ran", {"checks": 0, "failed": 0})
    failed = [c for c in checks if c["ok"] is not True]
    counts = {"checks": len(checks), "failed": len(failed)}
    target = hosts.get("target", "the target")
    if not failed:
        nodes = len({c["node"] for c in checks})
        return Verdict(NAME, PASS, f"{len(checks)} checks on {nodes} nodes passed ({target})",
                       counts)  # fmt: skip
    kinds = Counter(c["check"].split()[0] for c in failed)
    first = failed[0]
    summary = (
        f"{len(failed)} of {len(checks)} host checks failed "
        f"({', '.join(f'{n} {kind}' for kind, n in sorted(kinds.items()))}); first: "
        f"{first['check']} on {first['node']}: expected {first['expected']}, "
        f"got {first['actual']}"
    )
    return Verdict(NAME, FAIL, summary, counts, failed[:EVIDENCE])
