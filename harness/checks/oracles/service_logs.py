"""Oracle 8, service_logs: no service logged an error while the cloud rolled. Wrong code
often breaks where no client looks: a 2026.1 nova-compute raising `TypeError: ...
unexpected keyword argument` on a cast from an upgraded conductor, an
`IncompatibleObjectVersion` in an old API, a periodic task that died. The services say
it in their logs; this oracle reads every one the run collected (logs/<node>/<process>.log,
oslo.log's format, or journald's short-iso on devstack nodes).

A record is an ERROR or CRITICAL line with its continuation lines (oslo.log repeats the
prefix on each traceback line), or a traceback Python wrote itself, outside oslo.log (an
exception no handler caught, in a thread or at exit: logger "python", the pid and time of
the last timestamped line before it). Each is attributed to its node, process, pid and release
(the release that pid ran: a pid first seen during its own restart step is the new one)
and to the plan step in progress when it was logged. Records logged from the start of the
roll on are judged; earlier ones (the cloud coming up) are only counted.

Evidence, one per record: {"node", "process", "pid", "release", "step", "time", "level",
"logger", "kind": incompatible | traceback | error, "message", "exception", "request",
"call"}. "request" is the oslo request id (req-…) the record's context names. "call" is set
for a call that timed out waiting for its reply: its method, queue, request, the step in
progress when it was sent and when the broker delivered it, the steps that ran while it
was in its consumer's hands ("in_hand": from its delivery until its caller gave up), and
whether anything answered (from the bus trace); the records of that same request logged
after it was sent carry it too ("via": "request"): a build that failed because its call
was lost names the lost call, so a known finding matches the mechanism (the message,
where it went and what became of it), not a time window.
A record logged in a VIP failover of the scenario's that says a connection to that VIP
failed or was cut is that failover's cost, counted (`failover_excused`), not judged.
No log at all is unknown: the oracle saw nothing (a backend that collects none).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime

from harness.checks import failover
from harness.checks.oracles import rpc_bus
from harness.checks.record import RunRecord
from harness.checks.timeline import Timeline
from harness.checks.verdict import FAIL, PASS, UNKNOWN, Verdict

NAME = "service_logs"
UNIT = "log records"  # what one piece of its evidence is
LEVELS = ("ERROR", "CRITICAL")
# What oslo and nova raise when versions meet that cannot talk: the upgrade's own failures.
INCOMPATIBLE = ("UnsupportedVersion", "IncompatibleObjectVersion", "ServiceTooOld",
                "CappedVersionUnknown", "TooOldComputeService")  # fmt: skip
OSLO = re.compile(
    r"(?P<stamp>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) (?P<pid>\d+) (?P<level>[A-Z]+) "
    r"(?P<logger>\S+) ?(?P<text>.*)"
)
JOURNAL = re.compile(  # journalctl -o short-iso: "<iso> <host> <ident>[<pid>]: <LEVEL> ..."
    r"(?P<stamp>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}) \S+ [^\[\s]+\[(?P<pid>\d+)\]: "
    r"(?P<level>[A-Z]+) (?P<logger>\S+) ?(?P<text>.*)"
)
CONTEXT = re.compile(r"^\[[^\]]*\] ?")  # oslo's [req-... user project ...] context
EXCEPTION = re.compile(r"[A-Za-z_][\w.]*(Error|Exception|Failure|Timeout|NotFound|Exit)"
                       r"(: .*)?|[A-Za-z_][\w.]*: .*")  # fmt: skip
VENV_SERIES = re.compile(r"/venvs/([A-Za-z0-9][A-Za-z0-9._-]*)-[0-9a-f]{12}/")  # <side>-<key>
STARTS_ON = re.compile(r"start on ([A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])")
REPLY_TIMEOUT = re.compile(r"Timed out waiting for a reply to message ID (\w+)")
REQUEST = re.compile(r"\breq-[0-9a-f-]{8,}")
# an exception a record names: by its dotted class ("neutron_lib.exceptions.PortNotFound:")
# or as a remote error relays it ("Remote error: PortNotFound Port …")
NAMED_ERROR = re.compile(r"(?:\b[a-z_]+\.)+([A-Z]\w+)(?=:)|Remote error: ([A-Z]\w+) ")
TEXT = 300  # characters of a message or exception kept as evidence
BARE_START = "Traceback (most recent call last):"
CHAINED = ("During handling of the above exception, another exception occurred:",
           "The above exception was the direct cause of the following exception:")  # fmt: skip


@dataclass
class Line:
    t: float
    pid: int
    level: str
    logger: str
    text: str
    key: tuple  # lines sharing it continue one record


@dataclass
class Bare:
    """A bare traceback being read: past its exception line (`ended`), or a chain's
    `During handling …` line waiting for the next traceback (`chained`)."""

    record: LogRecord
    ended: bool = False
    chained: bool = False


@dataclass
class LogRecord:
    node: str
    process: str
    pid: int
    t: float
    level: str
    logger: str
    lines: list[str]
    requests: tuple[str, ...] = ()  # the req-… ids its oslo context names


def check(record: RunRecord) -> Verdict:
    if not record.logs:
        return Verdict(NAME, UNKNOWN, "no service log was collected", {"files": 0})
    start = _roll_start(record)
    found, firsts = parse_all(record.logs)
    rolled = sorted((r for r in found if start is None or r.t >= start), key=lambda r: r.t)
    windows = failover.windows(record.events)
    # a failover's cost (checks/failover.py), counted, not judged
    judged, cut = failover.grouped(
        rolled, windows, lambda r: failover.cut_off(windows, r.t, "\n".join(r.lines))
    )
    counts = {"files": len(record.logs), "records": len(judged),
              "before_roll": len(found) - len(rolled),
              "failover_excused": sum(len(rs) for rs in cut.values()),
              "processes": len({(r.node, r.process) for r in judged})}  # fmt: skip
    calls = _calls(record.bus)
    evidence = [_evidence(r, record.timeline, firsts, calls) for r in judged]
    _join_requests(evidence, judged)
    _same_request(evidence)
    counts["incompatible"] = sum(e["kind"] == "incompatible" for e in evidence)
    if not evidence:
        return Verdict(NAME, PASS, f"no error in {len(record.logs)} service logs during the "
                       "roll", counts)  # fmt: skip
    first = evidence[0]
    summary = (f"{len(evidence)} error records in {counts['processes']} processes' logs "
               f"during the roll; first: {first['process']} on {first['node']} "
               f"({first['release'] or 'release unknown'}) during {first['step'] or 'no step'}: "
               f"{first['exception'] or first['message']}")  # fmt: skip
    return Verdict(NAME, FAIL, summary, counts, evidence)


def brief(r: LogRecord) -> dict:
    """A record as another oracle's evidence names it ("logged")."""
    return {"process": r.process, "node": r.node, "t": r.t, "message": r.lines[0][:TEXT]}


def parse_all(logs: dict[str, str]) -> tuple[list[LogRecord], dict[tuple, float]]:
    """Every collected log's error records, and (node, process, pid) → its first line's time."""
    found, firsts = [], {}
    for name, text in sorted(logs.items()):
        node, process = _names(name)
        records, first_seen = parse(node, process, text)
        found.extend(records)
        firsts.update({(node, process, pid): t for pid, t in first_seen.items()})
    return found, firsts


def parse(node: str, process: str, text: str) -> tuple[list[LogRecord], dict[int, float]]:
    """(the log's error records, each pid's first line time)."""
    records: list[LogRecord] = []
    first_seen: dict[int, float] = {}
    current, key = None, None
    bare: Bare | None = None  # a traceback Python printed itself, outside oslo.log
    last: Line | None = None  # the last timestamped line: a bare traceback's pid and time
    previous = ""
    for raw in text.splitlines():
        line = _line(raw)
        if line is None:
            bare = _bare(raw, previous, bare, last, node, process, records)
            previous = raw
            continue
        bare, last, previous = None, line, raw
        first_seen.setdefault(line.pid, line.t)
        if current is not None and line.key == key:
            current.lines.append(line.text)
            continue
        current, key = None, None
        if line.level in LEVELS:
            context = CONTEXT.match(line.text)
            current = LogRecord(node, process, line.pid, line.t, line.level, line.logger,
                                [CONTEXT.sub("", line.text)],
                                tuple(REQUEST.findall(context[0])) if context else ())  # fmt: skip
            key = line.key
            records.append(current)
    return records, first_seen


def _bare(
    raw: str,
    previous: str,
    bare: Bare | None,
    last: Line | None,
    node: str,
    process: str,
    records: list[LogRecord],
) -> Bare | None:
    """A traceback Python wrote to the log itself — an exception no handler caught, in a
    thread (`Exception in thread …`) or at exit — is an error record too, though oslo.log
    never saw it. It has no time of its own: it takes the pid and time of the last
    timestamped line before it. A chained traceback (`During handling …`) stays in its
    record. Returns the record still open, if any."""
    if raw.startswith(BARE_START):
        if bare is not None and bare.chained:
            bare.record.lines.append(raw)
            return Bare(bare.record)
        head = [previous] if previous.startswith("Exception in thread") else []
        pid, t = (last.pid, last.t) if last else (0, 0.0)
        record = LogRecord(node, process, pid, t, "ERROR", "python", [*head, raw])
        records.append(record)
        return Bare(record)
    if bare is None:
        return None
    if not raw.strip():
        return bare
    if raw.strip() in CHAINED:
        bare.record.lines.append(raw)
        return Bare(bare.record, ended=True, chained=True)
    if raw[:1] in (" ", "\t") and not bare.ended:
        bare.record.lines.append(raw)
        return bare
    if bare.ended:
        return None  # a line after the exception: the record is complete
    bare.record.lines.append(raw)  # the exception itself, its last line
    return Bare(bare.record, ended=True)


def _line(raw: str) -> Line | None:
    m = OSLO.fullmatch(raw) or JOURNAL.fullmatch(raw)
    if m is None:
        return None
    stamp = m["stamp"]
    try:
        if "T" in stamp:
            t = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z").timestamp()
        else:  # oslo.log writes local time
            t = time.mktime(time.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S"))
            t += float("0" + stamp[19:])
    except ValueError:
        return None
    key = (stamp, m["pid"], m["level"], m["logger"])
    return Line(t, int(m["pid"]), m["level"], m["logger"], m["text"], key)


def _names(name: str) -> tuple[str, str]:
    """'compute-api/nova-compute.log' → ('compute-api', 'nova-compute')."""
    node, _, file = name.rpartition("/")
    return node, file.removesuffix(".log")


def _roll_start(record: RunRecord) -> float | None:
    plans = [e["t"] for e in record.events if e["event"] == "plan"]
    return plans[0] if plans else None


def _calls(bus: list[dict] | None) -> dict[str, dict]:
    """msg_id → the call's publish record, from the bus trace, with when the broker first
    delivered it (`delivered`) and whether a reply was published (`answered`)."""
    bus = bus or ()
    delivered: dict[str, float] = {}
    for m in bus:
        if m.get("kind") == "deliver" and m.get("role") == "call" and m.get("key"):
            delivered.setdefault(m["key"], m["t"])
    answered = {m["msg_id"] for m in bus if m.get("role") == "reply" and m.get("msg_id")}
    return {
        m["msg_id"]: {
            **m,
            "delivered": delivered.get(m.get("key")),
            "answered": m["msg_id"] in answered,
        }  # fmt: skip
        for m in bus
        if m.get("kind") == "publish" and m.get("role") == "call" and m.get("msg_id")
    }


def _evidence(r: LogRecord, timeline: Timeline, firsts: dict, calls: dict) -> dict:
    text = "\n".join(r.lines)
    kind = ("incompatible" if any(name in text for name in INCOMPATIBLE)
            else "traceback" if "Traceback (most recent call last)" in text
            else "error")  # fmt: skip
    exceptions = [s.strip() for s in r.lines[1:] if EXCEPTION.fullmatch(s.strip())]
    return {
        "node": r.node, "process": r.process, "pid": r.pid,
        "release": _release(r, timeline, firsts.get((r.node, r.process, r.pid), r.t), text),
        "step": timeline.step_at(r.t),
        "time": time.strftime("%H:%M:%S", time.localtime(r.t)) + f"{r.t % 1:.3f}"[1:],
        "level": r.level, "logger": r.logger, "kind": kind,
        "message": r.lines[0][:TEXT],
        "exception": exceptions[-1][:TEXT] if exceptions else None,
        "request": r.requests[-1] if r.requests else None,
        "call": _call(text, timeline, calls),
    }  # fmt: skip


def _call(text: str, timeline: Timeline, calls: dict) -> dict | None:
    """For a call that timed out waiting for its reply: what it was, the step in progress
    when it was sent and when it was delivered (so a waiver can name the cause, the step
    that lost the call, not the step that happened to be running 60 s later), and whether
    anything ever answered it."""
    m = REPLY_TIMEOUT.search(text)
    call = calls.get(m[1]) if m else None
    if call is None:
        return None
    queues = call.get("routed_queues") or call.get("routing_keys") or [""]
    delivered = call["delivered"]
    return {
        "method": call.get("method"),
        "queue": queues[0],
        "request": call.get("request_id"),
        "sent": call["t"],
        "step": timeline.step_at(call["t"]),
        "delivered_step": timeline.step_at(delivered) if delivered is not None else None,
        # the steps that ran while it was in its consumer's hands (delivered, not yet
        # given up by its caller): a step that stopped the consumer then lost it
        "in_hand": (
            timeline.steps_between(delivered, delivered + rpc_bus.caller_waits(call))
            if delivered is not None
            else []
        ),
        "answered": call["answered"],
    }


def _join_requests(evidence: list[dict], records: list[LogRecord]) -> None:
    """A record of the same request as a lost call, logged after that call was sent, is
    part of what the lost call did (the build it failed, the rollback it caused): it
    carries the call, marked as joined by the request."""
    lost = {e["call"]["request"]: e["call"] for e in evidence
            if e["call"] and e["call"]["request"] and not e["call"]["answered"]}  # fmt: skip
    for e, r in zip(evidence, records, strict=True):
        if e["call"] is not None:
            continue
        for request in r.requests:
            call = lost.get(request)
            if call is not None and r.t >= call["sent"]:
                e["call"] = {**call, "via": "request"}
                break


def _same_request(evidence: list[dict]) -> None:
    """What every error record of the same request said, in any process (an agent's
    request carries its id into the server it calls): "process: Exception; …", sorted.
    A record that names no exception itself ("Failed to bind port …") is then known by
    the one its request met (the subnet gone under the binding)."""
    named: dict[str, set[str]] = {}
    for e in evidence:
        if e["request"]:
            text = f"{e['message']}\n{e['exception'] or ''}"
            names = {a or b for a, b in NAMED_ERROR.findall(text)}
            named.setdefault(e["request"], set()).update(f"{e['process']}: {n}" for n in names)
    for e in evidence:
        e["same_request"] = "; ".join(sorted(named.get(e["request"], ()))) if e["request"] else ""


def _release(r: LogRecord, timeline: Timeline, first_t: float, text: str) -> str | None:
    """The release this pid ran. A pid first seen during a step restarting this very
    process is the one that step started, on the release the step names ("start on
    2026.2": the timeline's releases change only at a step's end, and a failed step may
    record none)."""
    step = timeline.step_at(first_t)
    if step and f" {r.process} on {r.node}:" in f" {step.split(' ', 1)[-1]}":
        started = STARTS_ON.search(step)
        if started:
            return started[1]
    if timeline.releases:
        release = timeline.release_at(r.node, r.process, max(first_t, timeline.releases[0][0]))
        if release is not None:
            return release
    # A command (nova-manage, ...) is not in the releases: its traceback names its venv.
    series = VENV_SERIES.search(text)
    return series[1] if series else None
