"""Every handler of the extension is authenticated.

The handlers are enumerated from the running extension app (not a hand-written list), with
the server started as the extension template's check does: unauthenticated access off, any
``JupyterServerAuthWarning`` about our endpoints a failure."""

from __future__ import annotations

import json
import re
import warnings

import pytest
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import JupyterServerAuthWarning, url_path_join
from tornado import web

from aiinfn_hub.serverext.app import extension_routes
from aiinfn_hub.serverext.handlers import BaseHandler

from .conftest import EXTENSION, extension_config, extension_of

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def implemented(handler: type[web.RequestHandler]) -> list[str]:
    """The HTTP methods ``handler`` defines itself (not tornado's 405 defaults)."""
    return [
        m
        for m in METHODS
        if getattr(handler, m.lower()) is not getattr(web.RequestHandler, m.lower())
        and getattr(handler, m.lower()) is not getattr(APIHandler, m.lower(), None)
    ]


def concrete(pattern: str, base_url: str) -> str:
    """A URL path matching ``pattern`` (named groups filled with a job-id-like value)."""
    path = re.sub(r"\(\?P<\w+>[^)]*\)", "0123456789", url_path_join(base_url, pattern))
    return path.replace("(/.*)?", "/anything").replace("/?", "/").rstrip("/")


@pytest.fixture
def jp_server_config(sandbox):
    return extension_config(mode="standalone", kubeconfig=str(sandbox.kubeconfig))


async def test_no_extension_endpoint_lacks_authentication(
    jp_configurable_serverapp, jp_server_config
):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        serverapp = jp_configurable_serverapp(config=jp_server_config)
    assert serverapp.allow_unauthenticated_access is False
    ours = [
        str(w.message)
        for w in caught
        if issubclass(w.category, JupyterServerAuthWarning) and "aiinfn-hub" in str(w.message)
    ]
    assert ours == []
    handlers = extension_of(serverapp).handlers
    assert len(handlers) == len(extension_routes())
    for pattern, handler, *_ in handlers:
        assert issubclass(handler, BaseHandler), pattern
        assert implemented(handler), f"{handler.__name__} answers nothing"
        assert serverapp.web_app._check_handler_auth(pattern, handler) == []


def test_the_check_catches_a_handler_without_authentication(jp_serverapp):
    """The check above can fail: a handler method without @authenticated is reported."""

    class Careless(BaseHandler):
        async def get(self) -> None:
            self.finish("{}")

    assert jp_serverapp.web_app._check_handler_auth("/aiinfn-hub/api/careless", Careless)


async def test_every_route_and_method_refuses_anonymous_and_wrong_tokens(
    jp_serverapp, jp_fetch, jp_base_url, http_server_client
):
    ext = extension_of(jp_serverapp)
    checked = 0
    for pattern, handler, *_ in ext.handlers:
        path = concrete(pattern, jp_base_url)
        assert path.startswith(jp_base_url + "aiinfn-hub/api/"), path
        for method in implemented(handler):
            body = b"{}" if method in ("POST", "PUT", "PATCH") else None
            for headers in ({}, {"Authorization": "token not-the-token"}):
                response = await http_server_client.fetch(
                    path,
                    method=method,
                    body=body,
                    headers=headers,
                    raise_error=False,
                    allow_nonstandard_methods=True,
                )
                assert response.code == 403, (method, path, headers, response.code)
                if method != "HEAD":
                    error = json.loads(response.body)["error"]
                    assert "did not accept your login" in error, (method, path, error)
                checked += 1
    # and with the server's token the same routes are not refused
    response = await jp_fetch("aiinfn-hub", "api", "whoami")
    assert response.code == 200
    assert checked >= 2 * 9
    assert EXTENSION in jp_serverapp.extension_manager.extension_apps
