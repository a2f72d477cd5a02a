"""Grenade-style resource plugins: what an operator creates before a roll and expects to
find unchanged after it. One module per service, each with the same small protocol:

    NAME: str
    create(conn, cloud) -> dict          ids and a fingerprint of what must not change
    verify(conn, cloud, state) -> list[str]   problems; empty when the resources are fine
    destroy(conn, cloud, state) -> None  idempotent; what is already gone is fine

`conn` is an admin openstacksdk connection through the VIP (harness.openstack_api.admin).
The state goes into the run's report, so it never holds a secret's value: a plugin that
needs one keeps it in `cloud.secrets` and records only its name. `survival` runs them all.
"""
