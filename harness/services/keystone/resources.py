"""Keystone: a project and a user in it with the `member` role. After the roll the user
must still get a token scoped to that project with its password (kept in the cloud's
secrets, never in the state)."""

from __future__ import annotations

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session
from keystoneauth1.identity import v3

from harness.services.resources_base import changes, fetch, new_name, undo_on_error

NAME = "keystone"
ROLE = "member"


def create(conn, cloud) -> dict:
    with undo_on_error(conn, cloud, destroy, {}) as state:
        project = conn.identity.create_project(
            name=new_name("project"), domain_id="default", description="upgrade-harness"
        )
        state["project_id"] = project.id
        name = new_name("user")
        state["password_secret"] = f"user-{name}"  # the secret's name, not its value
        user = conn.identity.create_user(
            name=name, domain_id="default", default_project_id=project.id,
            password=cloud.secrets.get(state["password_secret"]),
        )  # fmt: skip
        state["user_id"] = user.id
        role = conn.identity.find_role(ROLE, ignore_missing=False)
        conn.identity.assign_project_role_to_user(project, user, role)
        state["role_id"] = role.id
        state["fingerprint"] = {"project": _project(project), "user": _user(user)}
    return state


def verify(conn, cloud, state: dict) -> list[str]:
    project, problems = fetch("project", conn.identity.get_project, state["project_id"])
    user, gone = fetch("user", conn.identity.get_user, state["user_id"])
    problems += gone
    if project:
        problems += changes("project", state["fingerprint"]["project"], _project(project))
    if user:
        problems += changes("user", state["fingerprint"]["user"], _user(user))
    if project and user:
        problems += _role(conn, state) + _token(cloud, user.name, state)
    return problems


def destroy(conn, cloud, state: dict) -> None:
    if state.get("user_id"):
        conn.identity.delete_user(state["user_id"], ignore_missing=True)
    if state.get("project_id"):
        conn.identity.delete_project(state["project_id"], ignore_missing=True)


def _project(p) -> dict:
    return {"name": p.name, "domain_id": p.domain_id, "enabled": p.is_enabled,
            "description": p.description}  # fmt: skip


def _user(u) -> dict:
    return {"name": u.name, "domain_id": u.domain_id, "enabled": u.is_enabled,
            "default_project_id": u.default_project_id}  # fmt: skip


def _role(conn, state: dict) -> list[str]:
    assignments = conn.identity.role_assignments(
        user_id=state["user_id"], scope_project_id=state["project_id"]
    )
    if any(a.role["id"] == state["role_id"] for a in assignments):
        return []
    return [f"user {state['user_id']} lost the {ROLE} role on project {state['project_id']}"]


def _token(cloud, username: str, state: dict) -> list[str]:
    """The user authenticates as a user would: a fresh session, a token scoped to its project."""
    auth = v3.Password(
        auth_url=cloud.auth_url, username=username, user_domain_id="default",
        password=cloud.secrets.get(state["password_secret"]), project_id=state["project_id"],
    )  # fmt: skip
    try:
        access = auth.get_access(session.Session(auth=auth))
    except ks_exceptions.ClientException as e:
        return [f"user {username} cannot get a project-scoped token: {e}"]
    if access.project_id != state["project_id"]:
        return [f"user {username}'s token is scoped to {access.project_id!r}, not its project"]
    return []
