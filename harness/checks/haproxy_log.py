"""HAProxy's own view of a run, from its log (logs/<controller>/haproxy.log): every request
it forwarded (which server, how many connection retries, whether it redispatched, how it
ended) and every server state change (a health check taking a server DOWN or UP, the admin
socket draining, maintaining or readying it). The embedded cloud's HAProxy logs in this
format (backends/embedded/infra/haproxy.py); a line of anything else is skipped.

    2026-12-03T12:19:06.671518+00:00 haproxy-request 1796300346.669 0 nova-api controller
        200 ---- +1 0 4 5 "GET / HTTP/1.1"    (one line)
    2026-12-03T12:19:08.680041+00:00 Server nova-api/compute-api is DOWN, reason: Layer4 …
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

MARK = "haproxy-request"
# accept date and idle time (on a kept-alive connection the "accept date" of a request
# is the end of the one before; the request began Ti ms after it), frontend, server,
# status, termination state, retries ("+" when redispatched), connect / response /
# active times in ms, the request line
LOG_FORMAT = f"{MARK} %Ts.%ms %Ti %b %s %ST %tsc %rc %Tc %Tr %Ta %{{+Q}}r"
LINE = re.compile(r"(?P<iso>\d{4}-\d\d-\d\dT[\d:.]+(?:[+-]\d\d:\d\d|Z)) (?P<text>.*)")
REQUEST = re.compile(rf"{MARK} (?P<t>[\d.]+) (?P<ti>-?\d+) (?P<frontend>\S+) (?P<server>\S+) "
                     r"(?P<status>-?\d+) (?P<tsc>\S+) (?P<rc>\+?-?\d+) (?P<tc>-?\d+) "
                     r'(?P<tr>-?\d+) (?P<ta>-?\d+) "(?P<request>[^"]*)"')  # fmt: skip
SERVER = r"Server (?P<frontend>[^/\s]+)/(?P<server>\S+) "
STATES = (  # (event, pattern): the first that matches names the change
    ("ready", re.compile(SERVER + r"is [A-Z/]+.*\(leaving forced (drain|maintenance)\)")),
    # from maintenance back to drained HAProxy says "is UP/DRAIN (leaving forced
    # maintenance)" (a ready), then this line: the span goes on
    ("drain", re.compile(SERVER + r"(enters drain state|remains in forced drain mode)")),
    ("maint", re.compile(SERVER + r"(is going DOWN for maintenance|.*enters maintenance)")),
    ("down", re.compile(SERVER + r"is DOWN, reason")),
    ("up", re.compile(SERVER + r"is UP, reason")),
)


@dataclass(frozen=True)
class Forwarded:
    t: float  # when the request began (its connection's accept date + idle time)
    frontend: str
    server: str  # the server that finally answered ("<NOSRV>": none)
    status: int
    termination: str  # e.g. "----"; a first letter S or s: the server side ended it
    retries: int
    redispatched: bool  # the retries moved it to another server than the first one tried
    total_ms: int
    request: str


@dataclass(frozen=True)
class StateChange:
    t: float
    frontend: str
    server: str
    event: str  # ready | drain | maint (the admin socket), down | up (a health check)
    text: str


def parse(text: str) -> tuple[list[Forwarded], list[StateChange]]:
    forwarded, changes = [], []
    for raw in text.splitlines():
        line = LINE.match(raw)
        if not line:
            continue
        body = line["text"]
        if m := REQUEST.match(body):
            rc = m["rc"]
            began = float(m["t"]) + max(0, int(m["ti"])) / 1000
            forwarded.append(Forwarded(began, m["frontend"], m["server"], int(m["status"]),
                                       m["tsc"], int(rc.lstrip("+")), rc.startswith("+"),
                                       int(m["ta"]), m["request"]))  # fmt: skip
            continue
        for event, pattern in STATES:
            if m := pattern.search(body):
                t = datetime.fromisoformat(line["iso"].replace("Z", "+00:00")).timestamp()
                changes.append(StateChange(t, m["frontend"], m["server"], event, body[:200]))
                break
    return forwarded, changes
