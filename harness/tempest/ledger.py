"""What the tempest runs left in the run folder, and reading it back.

Each run writes its subunit stream (`tempest/<n>-<label>.subunit`, tempest's own output)
and one line of `tempest/runs.jsonl`: its label (baseline, during, after), when it started
and ended, its exit status, whether the harness cut it short (the roll ended mid-run),
and each test's status, times and, for a failure, the last line of its traceback.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import subunit
import testtools

FOLDER = "tempest"
LEDGER = f"{FOLDER}/runs.jsonl"
BASELINE, DURING, AFTER = "baseline", "during", "after"
PASSED = ("success", "xfail")
FAILED = ("fail", "uxsuccess")
REASON = 600  # characters kept: a waiter names the request it waited on at the end, past 300
EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Fault|Failure|Code|Timeout|\w*Found|"
                       r"Conflict|Forbidden|Unauthorized|BadRequest)\b: ")  # fmt: skip


def parse(stream) -> dict[str, dict]:
    """test id → {"status", "start", "end", "reason"} from a subunit v2 byte stream.
    A class fixture that failed (`setUpClass (tempest.api….Class)`) is a test like any."""
    tests: dict[str, dict] = {}

    def on_test(test: dict) -> None:
        if test["status"] in (None, "exists", "inprogress"):
            return
        stamps = [t.timestamp() for t in test["timestamps"] if t is not None]
        tests[test["id"]] = {
            "status": test["status"],
            "start": min(stamps) if stamps else None,
            "end": max(stamps) if stamps else None,
            "reason": _reason(test) if test["status"] in FAILED else None,
        }

    result = testtools.StreamToDict(on_test)
    result.startTestRun()
    try:
        subunit.ByteStreamToStreamResult(stream, non_subunit_name="stdout").run(result)
    finally:
        result.stopTestRun()
    return tests


def _reason(test: dict) -> str:
    """The exception tempest raised: from the traceback's last `module.Name: message` line
    to its end (tempest puts the status and body on the lines after it, `Details: 503`)."""
    for name in ("traceback", "reason"):
        detail = test["details"].get(name)
        if detail is None:
            continue
        lines = [line.strip() for line in detail.as_text().splitlines() if line.strip()]
        if not lines:
            continue
        starts = [i for i, line in enumerate(lines) if EXCEPTION.match(line)]
        return " ".join(lines[starts[-1] if starts else -1 :])[:REASON]
    return "failed (no traceback)"


def append(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_class(test_id: str) -> str:
    """`tempest.a.b.Class.test_x[id-…]` → `tempest.a.b.Class`; a fixture's
    `setUpClass (tempest.a.b.Class)` → `tempest.a.b.Class`."""
    if "(" in test_id and test_id.endswith(")"):
        return test_id.rsplit("(", 1)[1][:-1]
    return test_id.split("[", 1)[0].rsplit(".", 1)[0]
