"""A run's secrets: generated per run, kept in a mode-600 file, and redacted from every
log and report the run writes."""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path

SECRETS = "secrets.json"  # in the state dir
REDACTED = "***"
# Credentials inside URLs (mysql+pymysql://user:pw@, rabbit://user:pw@) whatever they are.
URL_CREDENTIALS = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


class Secrets:
    """Per-run passwords, generated on first use and kept in a mode-600 file."""

    def __init__(self, path: Path):
        self.path = path
        self._values: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}

    def get(self, name: str) -> str:
        if name not in self._values:
            self._values[name] = secrets.token_urlsafe(18)
            self._write()
        return self._values[name]

    def _write(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self._values, f)

    def put(self, name: str, value: str) -> None:
        """A secret the harness did not make (devstack's admin password, say)."""
        self._values[name] = value
        self._write()

    def values(self) -> list[str]:
        return list(self._values.values())


def redact(text: str, values: list[str]) -> str:
    for secret in sorted(values, key=len, reverse=True):
        if secret:
            text = text.replace(secret, REDACTED)
    return URL_CREDENTIALS.sub(rf"\g<1>{REDACTED}@", text)
