"""Who the jobs service takes a caller for: the hub's user model (or a fixed token) decides the
admin flag and who may read the service's metrics. The hub is not running here: HubOAuth's
answer is given as the hub gives it (``GET /hub/api/user``)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from aiinfn_hub.jobs.auth import Caller, HubAuthenticator, TokenAuthenticator

#: The hub's identify model of a token (JupyterHub 5): always kind, name, admin and scopes.
USER = {"kind": "user", "name": "Mario.Rossi@infn.it", "admin": False, "groups": ["atlas"]}
SERVER_SCOPES = [
    "access:servers!server=Mario.Rossi@infn.it/",
    "access:services!service=aiinfn-jobs",
    "users:activity!user=Mario.Rossi@infn.it",
]


@pytest.fixture
def hub_auth(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "service-token")

    def make(model: dict[str, Any] | None, **config: Any) -> HubAuthenticator:
        authenticator = HubAuthenticator(**config)

        async def get_user(handler: Any, sync: bool = True) -> dict[str, Any] | None:
            return model

        monkeypatch.setattr(authenticator.hub_auth, "get_user", get_user)
        return authenticator

    return make


class Handler:
    """What the authenticator reads of a request handler."""

    hub_auth = None


async def test_a_user_is_no_admin_and_reads_no_metrics(hub_auth):
    caller = await hub_auth({**USER, "scopes": SERVER_SCOPES}).authenticate(Handler())
    assert caller == Caller("Mario.Rossi@infn.it", admin=False, metrics=False)


async def test_a_hub_admin_reads_metrics(hub_auth):
    caller = await hub_auth({**USER, "admin": True, "scopes": SERVER_SCOPES}).authenticate(
        Handler()
    )
    assert caller == Caller("Mario.Rossi@infn.it", admin=True, metrics=True)


async def test_a_token_with_read_metrics_reads_metrics_and_nothing_more(hub_auth):
    """A hub-issued token for a Prometheus service: its scopes say what it may do."""
    model = {
        "kind": "service",
        "name": "prometheus",
        "admin": False,
        "scopes": ["access:services!service=aiinfn-jobs", "read:metrics"],
    }
    caller = await hub_auth(model).authenticate(Handler())
    assert caller == Caller("prometheus", admin=False, metrics=True)


async def test_metrics_users_and_admin_users_are_named_in_config(hub_auth):
    model = {**USER, "scopes": SERVER_SCOPES}
    caller = await hub_auth(model, metrics_users={"Mario.Rossi@infn.it"}).authenticate(Handler())
    assert caller == Caller("Mario.Rossi@infn.it", admin=False, metrics=True)
    caller = await hub_auth(model, admin_users={"Mario.Rossi@infn.it"}).authenticate(Handler())
    assert caller == Caller("Mario.Rossi@infn.it", admin=True, metrics=True)


async def test_a_model_that_does_not_say_admin_is_logged_not_silently_no_admin(hub_auth, caplog):
    """The hub always says whether a caller is an admin; if it ever does not, the service
    treats the caller as a user and says why in its log, naming who."""
    model = {"kind": "user", "name": "Mario.Rossi@infn.it", "scopes": SERVER_SCOPES}
    with caplog.at_level(logging.WARNING):
        caller = await hub_auth(model).authenticate(Handler())
    assert caller == Caller("Mario.Rossi@infn.it", admin=False, metrics=False)
    (record,) = [r for r in caplog.records if "admin" in r.getMessage()]
    assert "'Mario.Rossi@infn.it' does not say whether it is an admin" in record.getMessage()
    assert "kind, name, scopes" in record.getMessage()


async def test_no_model_is_no_caller(hub_auth):
    assert await hub_auth(None).authenticate(Handler()) is None


class TokenHandler:
    def __init__(self, token: str) -> None:
        self.request = type("Request", (), {"headers": {"Authorization": f"token {token}"}})()

    def get_query_argument(self, name: str, default: str) -> str:
        return default


async def test_fixed_tokens_follow_the_same_rules():
    authenticator = TokenAuthenticator(
        tokens={"a": "alice", "p": "prometheus", "r": "root"},
        admin_users={"root"},
        metrics_users={"prometheus"},
    )
    assert await authenticator.authenticate(TokenHandler("a")) == Caller("alice", False, False)
    assert await authenticator.authenticate(TokenHandler("p")) == Caller("prometheus", False, True)
    assert await authenticator.authenticate(TokenHandler("r")) == Caller("root", True, True)
    assert await authenticator.authenticate(TokenHandler("nope")) is None
