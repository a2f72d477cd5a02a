"""report.html: one self-contained file (inline CSS, SVG and a few lines of script; no
network) for people. A timeline with the plan's steps as bands and each node's release
per process as lanes; requests per second, failures, latency p50/p99 and the max
microversion seen on the same time axis; the steps with durations and forced kills; each
oracle's verdict and evidence; the seed and the command that replays the run."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from harness.checks.record import RunRecord
from harness.plan import events as events_mod
from harness.releases import sources
from harness.report import series

REPORT = "report.html"
LEFT, WIDTH, LANE = 190, 1000, 16  # label column, plot width, lane height (px)
KIND_COLOURS = {
    "install": "#c7c7c7",
    "manage": "#9ecae1",
    "setoption": "#bcbddc",
    "restart": "#e7969c",
    "drain": "#a1d99b",
    "admit": "#74c476",
    "signal": "#f7b6d2",
    "disable": "#fcbba1",
    "enable": "#c7e9c0",
}
RELEASE_COLOURS = ("#6baed6", "#fd8d3c", "#74c476", "#9e9ac8")


class Axis:
    """Seconds since the run's first recorded moment → x pixels."""

    def __init__(self, t0: float, t1: float):
        self.t0, self.span = t0, max(t1 - t0, 1.0)

    def x(self, t: float) -> float:
        return LEFT + (t - self.t0) / self.span * WIDTH

    def xs(self, seconds: float) -> float:  # seconds since t0
        return LEFT + seconds / self.span * WIDTH


def render(results: dict, run_dir: Path) -> str:
    record = RunRecord.load(run_dir)
    events = events_mod.read(run_dir / "events.jsonl")
    axis = _axis(results, record, events)
    body = [
        _header(results),
        _oracles(results),
        "<h2>Timeline</h2>",
        _timeline_svg(results, record, events, axis),
        _latency(results),
        _tempest(results),
        _steps(results),
        _findings(results),
    ]
    return PAGE.format(
        title=escape(f"{results['scenario']} {results['run_id']}"),
        body="\n".join(body),
        script=SCRIPT,
    )


def _axis(results: dict, record: RunRecord, events: list[dict]) -> Axis:
    times = [e["t"] for e in events]
    times += [r.sent for r in record.requests] + [r.received for r in record.requests]
    return Axis(min(times, default=0.0), max(times, default=1.0))


def _side_rows(sides: dict) -> list[tuple[str, str]]:
    """Per side, each project's version, and every source tree rolled in place of one."""
    rows = []
    for key, side in sides.items():
        versions = ", ".join(f"{p} {v}" for p, v in sorted((side.get("projects") or {}).items()))
        rows.append((f"{key} {side.get('series', '')}", versions))
        for src in side.get("sources") or []:
            rows.append((f"{key}: {src['project']} source", sources.describe(src)))
        if side.get("constraints"):
            rows.append((f"{key}: constraints", side["constraints"]["path"]))
    return rows


def _header(r: dict) -> str:
    rel = r["releases"]
    rows = [
        ("scenario", r["scenario"]),
        ("releases", f"{rel['from']} → {rel['to']}"),
        *_side_rows(r.get("sides") or {}),
        ("seed", r["seed"]),
        ("replay", r.get("replay") or ""),
        ("run", r["run_id"]),
        ("requests", f"{r['load']['requests']} ({r['load']['failures']} failed)"),
    ]
    if r.get("error"):
        rows.append(("error", r["error"]))
    cells = "".join(
        f"<tr><th>{escape(k)}</th><td><code>{escape(str(v))}</code></td></tr>" for k, v in rows
    )
    return (
        f'<h1>Rolling upgrade: <span class="verdict {r["verdict"]}" id="verdict">'
        f'{r["verdict"]}</span></h1><table class="meta">{cells}</table>'
    )


def _oracles(r: dict) -> str:
    rows = []
    for name, o in r["oracles"].items():
        counts = ", ".join(
            f"{k} {v}"
            for k, v in o.items()
            if isinstance(v, int) and not isinstance(v, bool) and k != "evidence_total"
        )
        evidence = ""
        if o["evidence"]:
            items = "".join(
                f"<li><code>{escape(json.dumps(e, sort_keys=True))}</code></li>"
                for e in o["evidence"]
            )
            evidence = (
                f"<details><summary>evidence ({o['evidence_total']})</summary>"
                f"<ol>{items}</ol></details>"
            )
        rows.append(
            f'<tr class="oracle"><td>{escape(name)}</td>'
            f'<td><span class="verdict {o["verdict"]}">{o["verdict"]}</span></td>'
            f"<td>{escape(o['summary'])}{evidence}</td><td>{escape(counts)}</td></tr>"
        )
    return (
        '<h2>Oracles</h2><table id="oracles"><tr><th>oracle</th><th>verdict</th>'
        f"<th>summary</th><th>counts</th></tr>{''.join(rows)}</table>"
    )


def _latency(r: dict) -> str:
    """The latency oracle's table: per API, the baseline's and each phase's n, p50, p99
    (ms) side by side, a cell over budget marked."""
    table = (r["oracles"].get("latency") or {}).get("table")
    if not table:
        return ""
    over = {(e["api"], e["phase"], e["metric"])
            for e in r["oracles"]["latency"].get("evidence", [])}  # fmt: skip
    windows = list(table)
    apis = sorted({api for rows in table.values() for api in rows})
    head = "".join(f"<th colspan=3>{escape(w)}</th>" for w in windows)
    sub = "<th>n</th><th>p50</th><th>p99</th>" * len(windows)
    rows = []
    for api in apis:
        cells = []
        for w in windows:
            row = table[w].get(api)
            if row is None:
                cells.append("<td></td><td></td><td></td>")
                continue
            cells.append(f"<td>{row['n']}</td>" + "".join(
                f'<td class="{"over" if (api, w, m) in over else ""}">{row[m]:.0f}</td>'
                for m in ("p50", "p99")))  # fmt: skip
        rows.append(f'<tr class="latency"><td>{escape(api)}</td>{"".join(cells)}</tr>')
    return (
        "<h2>Latency per API (ms): the baseline before the roll, then each phase</h2>"
        f'<table id="latency"><tr><th rowspan=2>API</th>{head}</tr><tr>{sub}</tr>'
        f"{''.join(rows)}</table>"
    )


def _tempest(r: dict) -> str:
    """Each tempest run: when, how long, and its tests' outcomes (tempest/<n>-<label>.subunit
    holds each test); the tests that failed in the baseline, reported and not judged."""
    counts = r["oracles"].get("tempest") or {}
    runs = counts.get("results")
    if not runs:
        return ""
    t0 = runs[0]["started"]
    rows = "".join(
        f'<tr class="tempest-run"><td>{x["run"]}</td><td>{escape(x["label"])}</td>'
        f'<td>{x["started"] - t0:.0f}</td><td>{x["ended"] - x["started"]:.0f}</td>'
        f'<td>{x["tests"]}</td><td>{x["passed"]}</td><td class="{"over" if x["failed"] else ""}">'
        f'{x["failed"]}</td><td>{x["skipped"]}</td><td>{"yes" if x["cut_short"] else ""}</td></tr>'
        for x in runs
    )  # fmt: skip
    failed = counts.get("baseline_failed") or []
    note = (f"<p>Failed in the baseline (reported, not judged): "
            f"{escape(', '.join(failed))}</p>" if failed else "")  # fmt: skip
    return (
        "<h2>Tempest: the baseline before the roll, the runs during it and after</h2>"
        '<table id="tempest"><tr><th>run</th><th>label</th><th>start (s)</th><th>took (s)</th>'
        "<th>tests</th><th>passed</th><th>failed</th><th>skipped</th><th>cut short</th></tr>"
        f"{rows}</table>{note}"
    )


def _steps(r: dict) -> str:
    rows = []
    for s in r["steps"]:
        kill = f"SIGKILL after {s['stop_wait']} s" if s["forced_kill"] else ""
        note = s["error"] or s["finding"] or ""
        dur = f"{s['duration']:.1f}" if s["duration"] is not None else "—"
        rows.append(
            f'<tr class="step {s["status"]}" data-step="{escape(s["id"])}">'
            f"<td>{escape(s['id'])}</td><td>{escape(s['name'])}</td>"
            f"<td>{escape(s['node'] or '')}</td><td class=num>{dur}</td>"
            f"<td>{s['status']}</td><td>{kill}</td><td>{escape(note)}</td></tr>"
        )
    return (
        '<h2>Steps</h2><table id="steps"><tr><th>step</th><th>what</th><th>node</th>'
        "<th>seconds</th><th>status</th><th>forced kill</th><th>note</th></tr>"
        f"{''.join(rows)}</table>"
    )


def _findings(r: dict) -> str:
    out = ""
    if r.get("waived"):
        items = "".join(
            f"<li>{escape(w['reason'])}: waived "
            + ", ".join(
                f"{n} {escape(w['units'][o])} of {escape(o)}"
                for o, n in sorted(w["waived"].items())
            )  # fmt: skip
            + "</li>"
            for w in r["waived"]
        )
        out += f"<h2>Known findings that occurred, and what each waived</h2><ul>{items}</ul>"
    if r["stale_findings"]:
        items = "".join(
            f"<li>{escape(k['oracle'])}: {escape(k['reason'])}</li>" for k in r["stale_findings"]
        )
        out += f"<h2>Known findings that did not occur (stale)</h2><ul>{items}</ul>"
    return out


def _timeline_svg(results: dict, record: RunRecord, events: list[dict], axis: Axis) -> str:
    parts, y = [], 20
    parts.append(_time_ticks(axis, y))
    y += 6
    parts.append(_bands(results["steps"], axis, y))
    y += 22
    lanes, y = _lanes(events, results["releases"], axis, y + 4)
    parts.append(lanes)
    for chart in (_rate_chart, _latency_chart, _version_chart):
        svg, y = chart(record, axis, y + 14)
        parts.append(svg)
    height = y + 10
    return (
        f'<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="{LEFT + WIDTH + 20}"'
        f' height="{height}" font-size="11">{"".join(parts)}</svg>'
    )


def _time_ticks(axis: Axis, y: int) -> str:
    step = next(s for s in (10, 30, 60, 120, 300, 600, 1800, 3600) if axis.span / s <= 12)
    out = []
    for k in range(int(axis.span // step) + 1):
        x = axis.xs(k * step)
        out.append(
            f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + 4}" stroke="#555"/>'
            f'<text x="{x:.1f}" y="{y - 3}" text-anchor="middle">{k * step} s</text>'
        )
    return "".join(out)


def _bands(steps: list[dict], axis: Axis, y: int) -> str:
    out = [f'<text x="4" y="{y + 14}">plan steps</text>']
    for s in steps:
        end = s["ended"] or s["started"]
        x, w = axis.x(s["started"]), max(axis.x(end) - axis.x(s["started"]), 1.5)
        colour = "#d62728" if s["status"] != "ok" else KIND_COLOURS.get(s["kind"], "#ddd")
        out.append(
            f'<rect class="band" data-step="{escape(s["id"])}" x="{x:.1f}" y="{y}" '
            f'width="{w:.1f}" height="18" fill="{colour}" stroke="#fff" '
            f'stroke-width="0.5"><title>{escape(s["id"] + " " + s["name"])} '
            f"({s['duration'] or 0:.1f} s)</title></rect>"
        )
    return "".join(out)


def _lanes(events: list[dict], releases: dict, axis: Axis, y: int) -> tuple[str, int]:
    snapshots = [(e["t"], e["releases"]) for e in events if e["event"] == "releases"]
    if not snapshots:
        return "", y
    colour = {releases["from"]: RELEASE_COLOURS[0], releases["to"]: RELEASE_COLOURS[1]}
    end = axis.t0 + axis.span
    keys = sorted({(n, p) for _, snap in snapshots for n, procs in snap.items() for p in procs})
    out = [
        f'<text x="{LEFT + WIDTH - 200}" y="{y - 2}">'
        f'<tspan fill="{RELEASE_COLOURS[0]}">■ {escape(releases["from"])}</tspan> '
        f'<tspan fill="{RELEASE_COLOURS[1]}">■ {escape(releases["to"])}</tspan> '
        '<tspan fill="#bbb">■ not running</tspan></text>'
    ]
    for i, (node, proc) in enumerate(keys):
        ly = y + i * LANE
        out.append(f'<text class="lane" x="4" y="{ly + 11}">{escape(node)} {escape(proc)}</text>')
        for j, (t, snap) in enumerate(snapshots):
            t_next = snapshots[j + 1][0] if j + 1 < len(snapshots) else end
            rel = snap.get(node, {}).get(proc)
            fill = colour.get(rel, "#bbb") if rel else "#bbb"
            x, w = axis.x(t), max(axis.x(t_next) - axis.x(t), 0.5)
            out.append(
                f'<rect x="{x:.1f}" y="{ly}" width="{w:.1f}" height="{LANE - 3}" '
                f'fill="{fill}"><title>{escape(f"{node} {proc}: {rel}")}</title></rect>'
            )
    return "".join(out), y + len(keys) * LANE


def _rate_chart(record: RunRecord, axis: Axis, y: int) -> tuple[str, int]:
    h = 70
    buckets = series.per_second(record.requests, axis.t0)
    peak = max((n for n, _ in buckets.values()), default=1) or 1
    out = [
        f'<text x="4" y="{y + 12}">requests/s (max {peak})</text>',
        f'<text x="4" y="{y + 26}" fill="#d62728">failed/s</text>',
    ]
    bar = max(WIDTH / axis.span, 1.0)
    for second, (n, failed) in sorted(buckets.items()):
        x = axis.xs(second)
        hn = n / peak * h
        out.append(
            f'<rect x="{x:.1f}" y="{y + h - hn:.1f}" width="{bar:.1f}" height="{hn:.1f}"'
            f' fill="#9ecae1"/>'
        )
        if failed:
            hf = max(failed / peak * h, 3)
            out.append(
                f'<rect class="failure" x="{x:.1f}" y="{y + h - hf:.1f}" '
                f'width="{max(bar, 2):.1f}" height="{hf:.1f}" fill="#d62728">'
                f"<title>{failed} failed at {second} s</title></rect>"
            )
    return "".join(out), y + h


def _latency_chart(record: RunRecord, axis: Axis, y: int) -> tuple[str, int]:
    h = 70
    points = series.latency(record.requests, axis.t0)
    if not points:
        return "", y
    peak = max(p99 for _, _, p99 in points) or 1.0
    out = [
        f'<text x="4" y="{y + 12}">latency p50 (ms)</text>',
        f'<text x="4" y="{y + 26}" fill="#e6550d">p99 (max {peak:.0f} ms)</text>',
    ]
    for idx, colour in ((1, "#3182bd"), (2, "#e6550d")):
        coords = " ".join(f"{axis.xs(p[0]):.1f},{y + h - p[idx] / peak * h:.1f}" for p in points)
        out.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.5"/>'
        )
    return "".join(out), y + h


def _version_chart(record: RunRecord, axis: Axis, y: int) -> tuple[str, int]:
    points = series.max_version(record.requests, axis.t0)
    if not points:
        return "", y
    versions = series.versions_in_order(points)
    h = 14 * len(versions)
    row = {v: y + h - 7 - i * 14 for i, v in enumerate(versions)}
    out = [f'<text x="4" y="{y + 12}">max microversion</text>']
    out += [
        f'<text x="{LEFT - 4}" y="{row[v] + 4}" text-anchor="end">{escape(v)}</text>'
        for v in versions
    ]
    out += [f'<circle cx="{axis.xs(t):.1f}" cy="{row[v]}" r="1.5" fill="#555"/>' for t, v in points]
    return "".join(out), y + h


def write(run_dir: Path, results: dict) -> Path:
    path = run_dir / REPORT
    path.write_text(render(results, run_dir))
    return path


SCRIPT = """
// Hovering a step's row highlights its band on the timeline, and the other way round.
for (const el of document.querySelectorAll('[data-step]')) {
  const id = el.dataset.step;
  const mates = () => document.querySelectorAll('[data-step="' + CSS.escape(id) + '"]');
  el.addEventListener('mouseenter', () => mates().forEach(m => m.classList.add('hot')));
  el.addEventListener('mouseleave', () => mates().forEach(m => m.classList.remove('hot')));
}
"""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 13px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin: .5em 0 1.5em; }}
th, td {{ border: 1px solid #ddd; padding: 3px 6px; text-align: left; vertical-align: top; }}
td.num {{ text-align: right; }}
.verdict {{ padding: 1px 8px; border-radius: 3px; color: #fff; font-weight: 600; }}
.verdict.pass {{ background: #2ca02c; }} .verdict.fail {{ background: #d62728; }}
td.over {{ background: #f8d0d0; font-weight: bold; }}
.verdict.xfail {{ background: #ff7f0e; }}
tr.step.failed {{ background: #fde0dd; }} tr.hot, rect.hot {{ outline: 2px solid #000; }}
rect.hot {{ stroke: #000; stroke-width: 2; }}
code {{ font-size: 12px; }} details ol {{ margin: .3em 0; }}
</style></head>
<body>
{body}
<script>{script}</script>
</body></html>
"""
