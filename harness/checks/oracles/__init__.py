"""One module per oracle, each with NAME and check(record) -> Verdict; the registry that
runs them is harness/checks/judge.py."""
