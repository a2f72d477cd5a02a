"""Oracle 10, schema: once the roll and every contract are done, each service database's
schema equals a fresh install's of the target. A contract skipped, a migration that
forgot a column, an index left behind: the upgraded cloud works today and breaks the next
upgrade, or differs from every cloud installed fresh. The backend dumps each database
(`mysqldump --no-data`) after the roll (schema/rolled/) and the same databases made by
the target's own sync commands in scratch databases (schema/fresh/).

Dumps are compared after normalizing what carries no meaning: column order (a migration
appends, a fresh CREATE lists by model), AUTO_INCREMENT counters, and the names MariaDB
generates for unnamed foreign keys (`<table>_ibfk_<n>`). Evidence, one per difference:
{"database", "table", "kind", "name", "rolled", "fresh"}; kind is table, column, key,
constraint or options, and "rolled"/"fresh" hold the definition on each side (None: not
there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from harness.checks.record import RunRecord
from harness.checks.verdict import FAIL, PASS, UNKNOWN, Verdict

NAME = "schema"
UNIT = "differences"  # what one piece of its evidence is
CREATE = re.compile(r"CREATE TABLE `(?P<table>[^`]+)` \((?P<body>.*?)\n\)(?P<options>[^;]*);",
                    re.S)  # fmt: skip
COLUMN = re.compile(r"`(?P<name>[^`]+)` (?P<definition>.+)")
KEY = re.compile(r"(?P<kind>PRIMARY KEY|UNIQUE KEY|KEY|FULLTEXT KEY|SPATIAL KEY)"
                 r"(?: `(?P<name>[^`]+)`)? (?P<definition>.+)")  # fmt: skip
CONSTRAINT = re.compile(r"CONSTRAINT `(?P<name>[^`]+)` (?P<definition>.+)")
GENERATED_FK = re.compile(r".+_ibfk_\d+")
AUTO_INCREMENT = re.compile(r" AUTO_INCREMENT=\d+")


@dataclass
class Table:
    columns: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    constraints: dict[str, str] = field(default_factory=dict)
    options: str = ""


def check(record: RunRecord) -> Verdict:
    dumps = record.schemas
    if not dumps or not dumps.get("rolled"):
        # every backend dumps them once verify is done: a run that stopped earlier has none
        return Verdict(NAME, UNKNOWN, "no schema was dumped (the run ended before its "
                       "schema phase)", {"databases": 0})  # fmt: skip
    rolled, fresh = dumps["rolled"], dumps.get("fresh", {})
    evidence = []
    for database in sorted(rolled):
        if database not in fresh:
            evidence.append(_diff(database, "", "database", database, "dumped", None))
            continue
        evidence += compare(database, parse(rolled[database]), parse(fresh[database]))
    tables = sum(len(parse(text)) for text in rolled.values())
    counts = {"databases": len(rolled), "tables": tables, "differences": len(evidence)}
    if not evidence:
        return Verdict(NAME, PASS, f"{len(rolled)} databases ({tables} tables) equal a fresh "
                       "install of the target", counts)  # fmt: skip
    first = evidence[0]
    where = f"{first['database']}.{first['table']}" if first["table"] else first["database"]
    summary = (f"{len(evidence)} differences from a fresh install of the target; first: "
               f"{where}: {first['kind']} {first['name']} {_how(first)}")  # fmt: skip
    return Verdict(NAME, FAIL, summary, counts, evidence)


def parse(text: str) -> dict[str, Table]:
    """mysqldump's CREATE TABLE statements → table name → its normalized parts."""
    tables = {}
    for m in CREATE.finditer(text):
        t = Table(options=AUTO_INCREMENT.sub("", m["options"]).strip())
        for raw in m["body"].splitlines():
            line = raw.strip().rstrip(",")
            if not line:
                continue
            if c := CONSTRAINT.fullmatch(line):
                name = "" if GENERATED_FK.fullmatch(c["name"]) else c["name"]
                t.constraints[name or c["definition"]] = c["definition"]
            elif k := KEY.fullmatch(line):
                t.keys[k["name"] or k["kind"]] = f"{k['kind']} {k['definition']}"
            elif col := COLUMN.fullmatch(line):
                t.columns[col["name"]] = col["definition"]
        tables[m["table"]] = t
    return tables


def compare(database: str, rolled: dict[str, Table], fresh: dict[str, Table]) -> list[dict]:
    out = []
    for table in sorted(set(rolled) | set(fresh)):
        r, f = rolled.get(table), fresh.get(table)
        if r is None or f is None:
            out.append(_diff(database, table, "table", table, r and "present", f and "present"))
            continue
        for kind in ("columns", "keys", "constraints"):
            a, b = getattr(r, kind), getattr(f, kind)
            for name in sorted(set(a) | set(b)):
                if a.get(name) != b.get(name):
                    out.append(_diff(database, table, kind[:-1], name, a.get(name), b.get(name)))
        if r.options != f.options:
            out.append(_diff(database, table, "options", table, r.options, f.options))
    return out


def _how(e: dict) -> str:
    if e["fresh"] is None:
        return "only after the roll"
    if e["rolled"] is None:
        return "missing after the roll"
    return f"is {e['rolled']!r} after the roll, {e['fresh']!r} fresh"


def _diff(database, table, kind, name, rolled, fresh) -> dict:
    return {"database": database, "table": table, "kind": kind, "name": name,
            "rolled": rolled, "fresh": fresh}  # fmt: skip
