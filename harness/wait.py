"""Waiting for things to become true, with tenacity, ending in a clear StepFailed."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable

import tenacity

from harness.errors import StepFailed


def until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.5) -> float:
    """Poll `check` until it returns True; return the seconds it took."""
    retry = tenacity.Retrying(
        stop=tenacity.stop_after_delay(timeout),
        wait=tenacity.wait_fixed(interval),
        retry=tenacity.retry_if_result(lambda ok: not ok)
        | tenacity.retry_if_exception_type(OSError),
        reraise=False,
    )
    try:
        retry(check)
    except tenacity.RetryError:
        raise StepFailed(f"{what} did not happen within {timeout:.0f} s") from None
    return retry.statistics.get("delay_since_first_attempt", 0.0)


def http_ok(url: str, timeout: float = 3.0) -> bool:
    """True when `url` answers with a status below 500 (a version document, say)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status < 500
    except urllib.error.HTTPError as e:
        return e.code < 500
    except (TimeoutError, urllib.error.URLError, OSError):
        return False
