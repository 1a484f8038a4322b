"""Who is calling: pluggable authenticators for the jobs service's HTTP handlers.

``HubAuthenticator`` (the default) accepts a JupyterHub API token or the service's OAuth
cookie, through JupyterHub's own ``HubOAuth``, which also checks the XSRF token of
cookie-authenticated requests that change something. ``TokenAuthenticator`` maps fixed tokens
to users, for the standalone mode and tests where no hub runs.

Who may read ``/metrics`` (every user's counts): admins, holders of JupyterHub's
``read:metrics`` scope (a token issued by the hub to a Prometheus service, say), and the names in
``metrics_users``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from tornado.httputil import url_concat
from traitlets import Dict, Set, Unicode
from traitlets.config import LoggingConfigurable

#: A tornado route: path pattern, handler class and, if any, its initialize() arguments.
Handler = tuple[str, type[Any]] | tuple[str, type[Any], dict[str, Any]]

#: JupyterHub's scope for reading the hub's own metrics; it lets a token read ours too.
METRICS_SCOPE = "read:metrics"


@dataclass(frozen=True)
class Caller:
    """An authenticated user: their name, whether they may see everyone's jobs, and whether
    they may read the service's metrics (everyone's counts)."""

    name: str
    admin: bool = False
    metrics: bool = False


class Authenticator(LoggingConfigurable):
    """Base class: turn a request into a :class:`Caller`, or ``None``."""

    admin_users = Set(
        Unicode(), help="Users who see and act on everyone's jobs, besides hub admins."
    ).tag(config=True)
    metrics_users = Set(
        Unicode(),
        help="Users or services who may read /metrics (every user's job counts) without being "
        "admins, e.g. the service a Prometheus server's token belongs to. With the hub, a "
        "token that holds the read:metrics scope may read it too.",
    ).tag(config=True)

    def caller(
        self, name: str, *, admin: bool = False, scopes: frozenset[str] = frozenset()
    ) -> Caller:
        """The :class:`Caller` for ``name``: an admin if the hub says so or ``admin_users``
        lists the name; a reader of metrics if an admin, if ``scopes`` hold read:metrics, or
        if ``metrics_users`` lists the name."""
        admin = admin or name in self.admin_users
        metrics = admin or METRICS_SCOPE in scopes or name in self.metrics_users
        return Caller(name, admin, metrics)

    async def authenticate(self, handler: Any) -> Caller | None:
        raise NotImplementedError

    def login_url(self, handler: Any) -> str | None:
        """Where to send a browser that is not logged in (None: answer 401)."""
        return None

    def setup(self, app_settings: dict[str, Any]) -> list[Handler]:
        """Extra tornado settings and handlers this authenticator needs."""
        return []


class TokenAuthenticator(Authenticator):
    """Fixed tokens: ``{"<token>": "alice"}``; for standalone mode and tests."""

    tokens = Dict(
        key_trait=Unicode(),
        value_trait=Unicode(),
        help="Map of API token to user name.",
    ).tag(config=True)

    async def authenticate(self, handler: Any) -> Caller | None:
        header = handler.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("token", "bearer") or not token:
            token = handler.get_query_argument("token", "")
        name = self.tokens.get(token.strip())
        if not name:
            return None
        return self.caller(name)


class OAuthCallbackHandler(HubOAuthCallbackHandler):  # type: ignore[misc]  # jupyterhub is untyped
    """JupyterHub's OAuth callback, bound to our ``HubOAuth`` (which holds the OAuth states)
    rather than to a process-wide default instance."""

    def initialize(self, hub_auth: HubOAuth) -> None:
        self.hub_auth = hub_auth


class HubAuthenticator(Authenticator):
    """JupyterHub tokens and OAuth cookies, checked with the hub (cached by ``HubOAuth``)."""

    cookie_secret_file = Unicode(
        "",
        help="File holding the secret that signs the service's OAuth cookie. Empty: a fresh "
        "secret per start (browsers then log in again through the hub, without a prompt).",
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not os.environ.get("JUPYTERHUB_API_TOKEN"):
            raise RuntimeError(
                "the jobs service has no JupyterHub API token ($JUPYTERHUB_API_TOKEN): run it "
                "as a JupyterHub managed service, or configure "
                "JobsService.authenticator_class = 'aiinfn_hub.jobs.auth.TokenAuthenticator'"
            )
        self.hub_auth = HubOAuth(parent=self, cache_max_age=60)

    async def authenticate(self, handler: Any) -> Caller | None:
        handler.hub_auth = self.hub_auth
        model = await self.hub_auth.get_user(handler, sync=False)
        if not model:
            return None
        access = self.hub_auth.access_scopes
        if access and not self.hub_auth.check_scopes(access, model):
            self.log.warning("%s may not access this service (needs %s)", model["name"], access)
            return None
        scopes = frozenset(model.get("scopes") or ())
        if "admin" not in model:  # the hub always says, for users and services alike
            self.log.warning(
                "the hub's model of %s %r does not say whether it is an admin (its fields: "
                "%s); it is treated as no admin unless admin_users lists it",
                model.get("kind", "user"),
                model["name"],
                ", ".join(sorted(model)),
            )
        admin = model.get("admin") is True or "admin:users" in scopes
        return self.caller(model["name"], admin=admin, scopes=scopes)

    def login_url(self, handler: Any) -> str | None:
        """The hub's OAuth page, with a state cookie that brings the browser back here."""
        state = self.hub_auth.set_state_cookie(handler, next_url=handler.request.uri)
        return url_concat(self.hub_auth.login_url, {"state": state})

    def setup(self, app_settings: dict[str, Any]) -> list[Handler]:
        if self.cookie_secret_file:
            with open(self.cookie_secret_file, "rb") as f:
                secret = f.read().strip()
        else:
            secret = secrets.token_bytes(32)
        app_settings["cookie_secret"] = secret
        app_settings["hub_auth"] = self.hub_auth
        # HubOAuth knows the callback as a URL (JUPYTERHUB_OAUTH_CALLBACK_URL); route its path
        path = urlsplit(self.hub_auth.oauth_redirect_uri).path
        return [(path, OAuthCallbackHandler, {"hub_auth": self.hub_auth})]
