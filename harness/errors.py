"""Errors the user can cause. They end the run with exit status 2 and one sentence."""


class UserError(Exception):
    """Bad input or a missing prerequisite; the message is one clear sentence."""

    exit_status = 2


class StepFailed(Exception):
    """A step of bringing up or rolling the cloud failed (exit status 1)."""

    exit_status = 1
