"""The rpc_pins oracle on recorded runs: nova's automatic compute RPC caps, judged against
the release facts each side's venv gave and the peers' releases the timeline gives."""

from __future__ import annotations

import time

from harness.checks.oracles import rpc_pins
from harness.checks.record import RunRecord
from harness.checks.timeline import Timeline
from harness.checks.verdict import FAIL, PASS, UNKNOWN
from harness.services import BY_NAME

T0 = 1_800_000_000.0
# 2025.2 → 2026.1: nova 32 (service version 70, compute RPC 6.4) → nova 33 (72, 6.5)
HISTORY = {"68": "6.4", "69": "6.4", "70": "6.4", "71": "6.5", "72": "6.5"}
FACTS = {"2025.2": {"service_version": 70, "peer_rpc": {k: v for k, v in HISTORY.items()
                                                         if int(k) <= 70}},
         "2026.1": {"service_version": 72, "peer_rpc": HISTORY}}  # fmt: skip


def line(t: float, pid: int, text: str) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(T0 + t))
    return f"{when}.000 {pid} INFO nova.compute.rpcapi [None req-1 - - - - - -] {text}\n"


def chose(t: float, pid: int, rpc: str, service: int) -> str:
    return line(t, pid, f"Automatically selected compute RPC version {rpc} from minimum "
                        f"service version {service}")  # fmt: skip


def releases(conductor: str, controller: str, compute_api: str) -> dict:
    return {"controller": {"nova-conductor": conductor, "nova-compute": controller},
            "compute-api": {"nova-compute": compute_api}}  # fmt: skip


# The correct roll: the conductor (10-12), each compute (20-22, 30-32), the reset (40-42).
STEPS = [(10, 12, "6.5 nova-conductor on controller: graceful stop, start on 2026.1"),
         (20, 22, "6.8 nova-compute on controller: graceful stop, start on 2026.1"),
         (30, 32, "6.11 nova-compute on compute-api: graceful stop, start on 2026.1"),
         (40, 42, "6.17 nova-conductor on controller: graceful stop, start on 2026.1 (drop "
                  "its cached RPC version cap)")]  # fmt: skip
RELEASES = [(0, releases("2025.2", "2025.2", "2025.2")),
            (12, releases("2026.1", "2025.2", "2025.2")),
            (22, releases("2026.1", "2026.1", "2025.2")),
            (32, releases("2026.1", "2026.1", "2026.1")),
            (42, releases("2026.1", "2026.1", "2026.1"))]  # fmt: skip


RESET = line(41, 300, "Starting conductor")  # 6.17's conductor, which has not chosen yet


def record(conductor_log: str, steps=STEPS, rel=RELEASES, pins: bool = True) -> RunRecord:
    timeline = Timeline([(T0 + a, T0 + b, text) for a, b, text in steps],
                        [(T0 + t, r) for t, r in rel])  # fmt: skip
    spec = BY_NAME["nova"].pins
    doc = {"nova": {"peer": spec.peer, "selected": spec.selected, "target": "2026.1",
                    "facts": FACTS}}  # fmt: skip
    return RunRecord(timeline=timeline, logs={"controller/nova-conductor.log": conductor_log},
                     pins=doc if pins else None)  # fmt: skip


def test_caps_that_follow_the_peers_and_rise_after_the_reset_pass():
    log = (line(1, 100, "Starting conductor") + chose(5, 100, "6.4", 70)
           + line(11, 200, "Starting conductor") + chose(15, 200, "6.4", 70)
           + line(41, 300, "Starting conductor") + chose(45, 300, "6.5", 72))  # fmt: skip
    verdict = rpc_pins.check(record(log))
    assert verdict.status == PASS, verdict.summary
    assert verdict.counts == {"selections": 3, "violations": 0}


def test_a_cap_above_what_a_live_peer_accepts_fails():
    # a new conductor that trusted its own version, with both computes still on 6.4
    log = line(11, 200, "Starting conductor") + chose(15, 200, "6.5", 72)
    verdict = rpc_pins.check(record(log))
    assert verdict.status == FAIL
    bad = verdict.evidence[0]
    assert bad["why"] == "above a live peer" and bad["release"] == "2026.1"
    assert bad["peer"] == "nova-compute on compute-api (2025.2, accepts 6.4)"
    assert bad["step"] is None and bad["cap"] == "6.5"


def test_a_cap_from_a_version_that_is_not_the_peers_lowest_fails():
    # 6.4 is right, but no compute ran 69 then: the choice did not read the table
    log = line(11, 200, "Starting conductor") + chose(15, 200, "6.4", 69) + RESET
    verdict = rpc_pins.check(record(log))
    assert [e["why"] for e in verdict.evidence] == ["not the minimum"]
    assert verdict.evidence[0]["peer"] == "nova-computes' lowest service version then: 70"


def test_a_peer_restarting_in_the_step_in_progress_counts_either_way():
    # chosen while compute-api's compute restarts (30-32): its row says 70 or 72
    early = line(11, 200, "Starting conductor") + chose(31, 200, "6.4", 70) + RESET
    late = line(11, 200, "Starting conductor") + chose(31, 200, "6.5", 72) + RESET
    assert rpc_pins.check(record(early)).status == PASS
    # 6.5 while 2025.2's compute may still run is above it: only the version may differ
    assert rpc_pins.check(record(late)).evidence[0]["why"] == "above a live peer"


def test_a_reset_skipped_leaves_the_last_cap_stale_and_fails():
    steps = STEPS[:3]  # no 6.17: the conductor keeps what it chose while computes were old
    log = line(11, 200, "Starting conductor") + chose(15, 200, "6.4", 70)
    verdict = rpc_pins.check(record(log, steps, RELEASES[:4]))
    assert [e["why"] for e in verdict.evidence] == ["stale at the end"]
    assert verdict.evidence[0]["peer"] == "every nova-compute on 2026.1, which accepts 6.5"
    assert verdict.evidence[0]["pid"] == 200


def test_a_stale_cap_of_a_process_that_ended_is_not_judged():
    log = (
        line(11, 200, "Starting conductor")
        + chose(15, 200, "6.4", 70)
        + line(41, 300, "Starting conductor")
    )  # restarted, never needed the cap again
    assert rpc_pins.check(record(log)).status == PASS


def test_nothing_to_judge_is_unknown():
    assert rpc_pins.check(record(line(1, 100, "Starting"), pins=False)).status == UNKNOWN
    nothing = rpc_pins.check(record(line(1, 100, "Starting conductor")))
    assert (nothing.status, nothing.summary) == (UNKNOWN, "no process logged choosing an RPC cap")


# cinder: the peers record their RPC version per binary. A patched 2026.2 cinder-volume
# (3.21) rolled from 2026.1 (3.20); the scheduler chooses its cinder-volume cap.
CINDER_FACTS = {
    "2026.1": {"accepts": {"cinder-volume": "3.20", "cinder-scheduler": "3.12"}},
    "2026.2": {"accepts": {"cinder-volume": "3.21", "cinder-scheduler": "3.12"}},
}
CINDER_STEPS = [(10, 12, "6.3 cinder-scheduler on controller: graceful stop, start on 2026.2"),
                (20, 22, "6.4 cinder-volume on controller: graceful stop, start on 2026.2"),
                (40, 42, "6.11 cinder-scheduler on controller: graceful stop, start on 2026.2 "
                         "(drop its cached RPC version caps)")]  # fmt: skip


def cinder_releases(scheduler: str, volume: str) -> dict:
    return {"controller": {"cinder-scheduler": scheduler, "cinder-volume": volume}}


CINDER_RELEASES = [(0, cinder_releases("2026.1", "2026.1")),
                   (12, cinder_releases("2026.2", "2026.1")),
                   (22, cinder_releases("2026.2", "2026.2")),
                   (42, cinder_releases("2026.2", "2026.2"))]  # fmt: skip


def cinder_chose(t: float, pid: int, binary: str, rpc: str) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(T0 + t))
    return (f"{when}.000 {pid} INFO cinder.rpc [None req-1 - - - - - -] Automatically "
            f"selected {binary} RPC version {rpc} as minimum service version.\n")  # fmt: skip


def cinder_record(scheduler_log: str, steps=CINDER_STEPS, rel=CINDER_RELEASES) -> RunRecord:
    timeline = Timeline([(T0 + a, T0 + b, text) for a, b, text in steps],
                        [(T0 + t, r) for t, r in rel])  # fmt: skip
    spec = BY_NAME["cinder"].pins
    doc = {"cinder": {"peer": spec.peer, "selected": spec.selected, "target": "2026.2",
                      "facts": CINDER_FACTS}}  # fmt: skip
    return RunRecord(timeline=timeline, pins=doc,
                     logs={"controller/cinder-scheduler.log": scheduler_log})  # fmt: skip


def test_cinder_caps_per_binary_that_follow_the_rows_and_rise_after_the_reset_pass():
    log = (cinder_chose(1, 100, "cinder-volume", "3.20")
           + cinder_chose(11, 200, "cinder-volume", "3.20")  # the volume service still old
           + cinder_chose(11, 200, "cinder-scheduler", "3.12")
           + cinder_chose(41, 300, "cinder-volume", "3.21"))  # fmt: skip
    verdict = rpc_pins.check(cinder_record(log))
    assert verdict.status == PASS, verdict.summary
    assert verdict.counts == {"selections": 4, "violations": 0}


def test_a_cinder_cap_above_the_old_volume_service_fails_naming_the_binary():
    # a new scheduler that trusted its own code while the 2026.1 cinder-volume runs
    log = cinder_chose(15, 200, "cinder-volume", "3.21") + cinder_chose(41, 300, "x", "1")
    verdict = rpc_pins.check(cinder_record(log))
    assert verdict.status == FAIL
    bad = verdict.evidence[0]
    assert (bad["why"], bad["peer_binary"], bad["cap"]) == ("above a live peer",
                                                            "cinder-volume", "3.21")  # fmt: skip
    assert bad["peer"] == "cinder-volume on controller (2026.1, accepts 3.20)"


def test_a_cinder_reset_skipped_leaves_the_scheduler_stale_and_fails():
    log = cinder_chose(15, 200, "cinder-volume", "3.20")
    verdict = rpc_pins.check(cinder_record(log, CINDER_STEPS[:2], CINDER_RELEASES[:3]))
    assert [e["why"] for e in verdict.evidence] == ["stale at the end"]
    assert verdict.evidence[0]["peer"] == "every cinder-volume on 2026.2, which accepts 3.21"


def test_a_cinder_cap_below_every_peer_is_not_the_minimum():
    log = cinder_chose(30, 200, "cinder-volume", "3.19") + cinder_chose(41, 300, "x", "1")
    verdict = rpc_pins.check(cinder_record(log))
    assert [e["why"] for e in verdict.evidence] == ["not the minimum"]
    assert verdict.evidence[0]["peer"] == "cinder-volumes' lowest RPC version then: 3.21"
