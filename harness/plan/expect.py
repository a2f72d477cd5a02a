"""What a roll leaves the nodes' options at: the host checks compare the nodes with the
*correct* plan's, so a deliberately wrong plan (one that skips the RPC pin, say) is caught
rather than excused by itself."""

from __future__ import annotations

from harness.plan import planner, wrong
from harness.plan.planner import Plan
from harness.plan.steps import SetOption

# (node, service, section, key) → the value the plan leaves the option at.
Options = dict[tuple[str, str, str, str], str]


def expected_options(plan: Plan) -> Options:
    """What the correct roll leaves the options at: compared with that, a deliberately
    wrong plan (one that skips the RPC pin, say) is caught rather than excused by itself."""
    return planned_options(planner.build(wrong.corrected(plan.scenario), plan.seed))


def planned_options(plan: Plan) -> Options:
    """Fold the plan's SetOption steps in execution order: the last value set wins."""
    options: Options = {}
    for _, _, step in plan.numbered():
        if isinstance(step, SetOption):
            options[(step.host, step.service, step.section, step.key)] = step.value
    return options
