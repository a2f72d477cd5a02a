"""The devstack backend: a plan carried out on devstack nodes over SSH (systemd units, a
venv per release, each node's HAProxy), with the same steps and oracles as the embedded one."""
