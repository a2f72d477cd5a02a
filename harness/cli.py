"""The `harness` command: doctor, lock, prepare, up, plan, run, report, status, down.

Exit status: 0 success, 1 a step or check failed, 2 bad input or missing prerequisite
(one sentence, nothing left running), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import signal
import sys
from pathlib import Path

from harness import progress, scenario
from harness.backends import registry
from harness.backends.embedded import lifecycle, prereqs
from harness.backends.embedded.cloud import default_state_dir
from harness.errors import StepFailed, UserError
from harness.releases import cache, catalog, locks, venv

SCENARIO_HELP = "a scenario file, e.g. scenarios/nova-rolling.yaml"


def version() -> str:
    try:
        return importlib.metadata.version("upgrade-harness")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout, not installed
        return "(not installed)"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="harness", description=__doc__.splitlines()[0])
    p.add_argument("--state-dir", type=Path, default=None, help="where the cloud's record lives")
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="where venvs, sdists and patched trees are cached",
    )
    p.add_argument("-v", "--verbose", action="store_true",
                   help="debug lines on the console too: each command the harness runs and "
                        "its output (a run's steps/ logs hold them always)")  # fmt: skip
    p.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="list prerequisites present and missing")
    lock = sub.add_parser("lock", help="regenerate the lock files of catalogued series")
    lock.add_argument(
        "series",
        nargs="*",
        help="a catalogued series, e.g. 2026.2, or tempest (default: every series and tempest)",
    )
    prepare = sub.add_parser(
        "prepare", help="install the Debian packages and build the scenario's release venvs"
    )
    prepare.add_argument("scenario", type=Path, help=SCENARIO_HELP)
    _source_arguments(prepare)
    commands = (
        ("up", "bring the scenario's cloud up at its base release"),
        ("plan", "print the rolling-upgrade plan as a tree; changes nothing"),
        ("run", "up, roll from the base release to the target, verify, report, down"),
    )
    for name, text in commands:
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("scenario", type=Path, help=SCENARIO_HELP)
        _source_arguments(cmd)
        if name in ("plan", "run"):
            cmd.add_argument("--seed", type=int, default=None, help="replay a run's choices")
            cmd.add_argument("--nodes", type=Path, default=None,
                             help="devstack nodes file (with --backend devstack)")  # fmt: skip
        if name == "run":
            cmd.add_argument("--backend", choices=registry.NAMES, default="embedded",
                             help="where to roll: the embedded cloud (default) or devstack "
                                  "nodes reached over SSH")  # fmt: skip
            cmd.add_argument("--keep", action="store_true", help="leave the cloud up afterwards")
            cmd.add_argument(
                "--report-dir", type=Path, default=None, help="default reports/<run-id>"
            )
    report = sub.add_parser("report", help="rebuild a run folder's reports from its records")
    report.add_argument("run_dir", type=Path,
                        help="a run folder (reports/<run-id>), as a run left it")  # fmt: skip
    found = sub.add_parser("findings", help="write each finding of a run as a bug report "
                           "ready for upstream (findings/ in the run folder)")  # fmt: skip
    found.add_argument("run_dir", type=Path, help="a run folder (reports/<run-id>)")
    sub.add_parser("status", help="nodes, services, release per service, pids, health")
    sub.add_parser("down", help="stop everything and remove the cloud")
    _selftest_parser(sub)
    return p


def _source_arguments(cmd) -> None:
    cmd.add_argument("--source", action="append", default=[], metavar="PROJECT=PATH[@VERSION]",
                     help="roll to this tree (a checkout or an unpacked sdist) in place of "
                          "the project's release; repeatable")  # fmt: skip
    cmd.add_argument("--constraints", type=Path, default=None, metavar="FILE",
                     help="the target side's upper-constraints (openstack/requirements' "
                          "format) instead of the committed lock")  # fmt: skip


def overrides(args) -> scenario.Overrides:
    return scenario.Overrides(tuple(args.source), args.constraints)


def _selftest_parser(sub) -> None:
    cmd = sub.add_parser(
        "selftest", help="run the catalogs of wrong procedures and code; each must be caught"
    )
    cmd.add_argument("--cases", default=None, help="comma-separated case names or numbers")
    cmd.add_argument(
        "--report-dir", type=Path, default=None, help="default reports/selftest-<stamp>"
    )
    cmd.add_argument("--catalog", type=Path, action="append", default=[],
                     help="a folder of cases, repeatable (default: scenarios/negative and "
                          "scenarios/code)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    progress.setup(args.verbose)
    # A shell without job control starts `harness ... &` with SIGINT ignored, and Python
    # then leaves it ignored: an interrupt sent to it (a CI job cancelled, `kill -INT`)
    # must still tear down what it started.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    state_dir = args.state_dir or default_state_dir()
    if args.cache_dir:  # what reading a scenario fetches (sdists, patched trees) goes there too
        os.environ["HARNESS_CACHE_DIR"] = str(args.cache_dir.resolve())
    cache_dir = args.cache_dir or cache.default_cache_dir()
    try:
        return COMMANDS[args.command](args, state_dir, cache_dir)
    except UserError as e:
        print(f"harness: {e}", file=sys.stderr)
        return e.exit_status
    except StepFailed as e:
        print(f"harness: failed: {e}", file=sys.stderr)
        return e.exit_status
    except KeyboardInterrupt:
        print("harness: interrupted; everything it started was stopped.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `harness status | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0


def cmd_doctor(args, state_dir, cache_dir) -> int:
    """Exit 0 when a cloud can come up here, 2 when a prerequisite the harness cannot
    install itself is missing (root, namespaces, uv); Debian packages it installs itself at
    the first `prepare` or `up` are listed, not counted."""
    rows = prereqs.checks()
    for row in rows:
        mark = "ok " if row.ok else ("later" if row.installable else "MISSING")
        print(f"{mark:7}  {row.name:28} {row.detail}")
    print(f"state dir  {state_dir}\ncache dir  {cache_dir}")
    for s in catalog.CATALOG.values():
        where = venv.venv_path(s, cache_dir)
        print(
            f"release {s.name}: venv {'cached' if venv.is_built(where) else 'not built'} ({where})"
        )
    return 0 if all(r.ok or r.installable for r in rows) else 2


def cmd_lock(args, state_dir, cache_dir) -> int:
    from harness.tempest import install as tempest

    for name in args.series or [*catalog.CATALOG, "tempest"]:
        print(
            tempest.compile_lock() if name == "tempest" else locks.compile_lock(catalog.get(name))
        )
    return 0


def cmd_prepare(args, state_dir, cache_dir) -> int:
    from harness.run import prepare

    # A bad scenario or source stops before anything is installed.
    s = scenario.load(args.scenario, overrides(args))
    rows = [prepare.packages(), *prepare.venvs(s, cache_dir)]
    for r in rows:
        print(f"{r.what:16} {r.outcome:10} {r.seconds:6.1f} s  {r.where}")
    return 0 if all(not r.outcome.startswith("missing") for r in rows) else 1


def cmd_up(args, state_dir, cache_dir) -> int:
    from harness.backends import openstack_api

    cloud = lifecycle.up(args.scenario, state_dir, cache_dir, overrides=overrides(args))
    print(f"cloud {cloud.scenario.name} is up; VIP {cloud.vip}; 'harness status' shows it; "
          "'harness down' removes it. For the openstack client:")  # fmt: skip
    print(openstack_api.write_clouds_yaml(cloud))
    return 0


def cmd_plan(args, state_dir, cache_dir) -> int:
    from harness.plan import planner
    from harness.run import job

    plan = job.plan_for(args.scenario, args.seed, args.nodes, overrides(args))
    print(planner.render(plan), end="")
    return 0


def cmd_run(args, state_dir, cache_dir) -> int:
    from harness.run import job

    return job.run(args.scenario, state_dir, cache_dir, args.seed, args.keep, args.report_dir,
                   args.backend, args.nodes, overrides(args))  # fmt: skip


def cmd_report(args, state_dir, cache_dir) -> int:
    from harness import report
    from harness.report import github

    res = report.write_all(args.run_dir)
    print(report.summary_table(res, args.run_dir))
    github.publish(res, args.run_dir)  # a job that re-judges offline summarizes it too
    return 0 if res["verdict"] == "pass" else 1


def cmd_findings(args, state_dir, cache_dir) -> int:
    from harness.report import bugs

    written = bugs.write(args.run_dir)
    for path in written:
        print(path)
    print(f"{len(written)} findings written to {args.run_dir / bugs.FOLDER}")
    return 0


def cmd_status(args, state_dir, cache_dir) -> int:
    cloud, rows, backends = lifecycle.status(state_dir)
    if cloud is None:
        print("no cloud is up")
        return 0
    s = cloud.scenario
    print(f"cloud {s.name} ({cloud.record['status']}), VIP {s.network.vip}{_held(cloud)}, "
          f"base {s.release_from}")  # fmt: skip
    print(f"{'NODE':13} {'PROCESS':16} {'RELEASE':8} {'PID':>8}  STATE")
    for r in sorted(rows, key=lambda r: (r.node, r.name)):
        print(
            f"{r.node:13} {r.name:16} {r.release:8} {r.pid:>8}  {'running' if r.alive else 'DEAD'}"
        )
    if backends:
        print("HAProxy backends:")
        for (frontend, server), state in sorted(backends.items()):
            print(f"  {frontend:16} {server:13} {state}")
    up = all(part.startswith("UP") for v in backends.values() for part in v.split("|"))
    healthy = all(r.alive for r in rows) and up
    return 0 if healthy and backends else 1


def _held(cloud) -> str:
    """Which balancer holds the VIP, where keepalived moves it."""
    if not cloud.scenario.vrrp:
        return ""
    from harness.backends.embedded.infra import keepalived

    held = keepalived.holders(cloud)
    return f" (held by {', '.join(held) or 'no node'})"


def cmd_down(args, state_dir, cache_dir) -> int:
    if lifecycle.down(state_dir):
        print("cloud removed")
    return 0


def cmd_selftest(args, state_dir, cache_dir) -> int:
    from harness.run import selftest

    cases = selftest.choose(selftest.catalog(*args.catalog), args.cases)
    return selftest.run(cases, state_dir, cache_dir, args.report_dir)


COMMANDS = {
    "doctor": cmd_doctor,
    "lock": cmd_lock,
    "prepare": cmd_prepare,
    "up": cmd_up,
    "plan": cmd_plan,
    "run": cmd_run,
    "report": cmd_report,
    "findings": cmd_findings,
    "status": cmd_status,
    "down": cmd_down,
    "selftest": cmd_selftest,
}

if __name__ == "__main__":
    sys.exit(main())
