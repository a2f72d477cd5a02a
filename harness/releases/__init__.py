"""OpenStack release series, their lock files and per-release virtualenvs."""
