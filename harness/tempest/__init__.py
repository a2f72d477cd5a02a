"""Tempest, the suite every OpenStack gate reads, run before, during and after the roll:
its venv (install), its config from the cloud's facts (config), its runs (control) and
what they left (ledger), which the tempest oracle judges."""
