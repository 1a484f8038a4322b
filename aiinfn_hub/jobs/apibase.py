"""The base of every handler of the jobs service's REST API: JSON in (validated against
``openapi.yaml``), JSON out, errors as ``{"error", "status", "field"}`` in plain words
(:mod:`aiinfn_hub.jsonerrors`), and no anonymous caller (a browser is sent to the hub's
login). The endpoints themselves are in :mod:`.handlers`.
"""

from __future__ import annotations

import json
import math
from types import TracebackType
from typing import Any

from ..errors import AIInfnError, BadRequest, Starting, Unauthorized
from ..jsonerrors import JSONErrors
from . import openapi
from .auth import Caller
from .manager import JobsManager

UNEXPECTED = (
    "the jobs service hit an unexpected error; it is logged, and your jobs are safe: try again"
)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large")
    return value


def _check_unicode(data: Any) -> None:
    """Refuse text that cannot be UTF-8: a JSON escape of half a surrogate pair (``\\ud800``)."""
    try:
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise BadRequest(
            "the body holds an unpaired surrogate escape (such as \\ud800), which is not "
            "text; send valid Unicode (escape characters outside the BMP as a pair)"
        ) from None


class APIHandler(JSONErrors):
    """JSON in, JSON out; errors as ``{"error", "status", "field"}`` (:mod:`aiinfn_hub.jsonerrors`);
    no anonymous access."""

    routes_hint = "GET /openapi.json"
    unexpected = UNEXPECTED

    #: The OpenAPI path this handler serves, for query-string validation.
    openapi_path = ""
    #: Who is asking (set by prepare(), which refuses anyone it cannot name).
    caller: Caller | None = None

    @property
    def who(self) -> Caller:
        """The authenticated caller, in a handler method (after :meth:`prepare`)."""
        if self.caller is None:  # prepare() has answered 401 already
            raise Unauthorized("authentication required")
        return self.caller

    @property
    def manager(self) -> JobsManager:
        found: JobsManager = self.settings["jobs_manager"]
        return found

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")

    async def prepare(self) -> None:
        authenticator = self.settings["authenticator"]
        self.caller = await authenticator.authenticate(self)
        if self.caller is not None:
            if self.settings.get("starting"):
                raise Starting()
            return
        if self.request.method == "GET" and self._browser_navigation():
            url = authenticator.login_url(self)
            if url:
                self.redirect(url)
                return
        raise Unauthorized(
            "authentication required: send your JupyterHub API token as "
            "'Authorization: token <token>' (or log in to the hub in this browser)",
        )

    def _browser_navigation(self) -> bool:
        headers = self.request.headers
        mode = headers.get("Sec-Fetch-Mode")
        return mode == "navigate" or (mode is None and "text/html" in headers.get("Accept", ""))

    def query(self) -> dict[str, Any]:
        """The query string, checked against this operation's OpenAPI parameters."""
        method = self.request.method or "GET"
        return openapi.query(self.openapi_path, method, self.request.query_arguments)

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data))

    def body(self, schema: str | None = None, required: bool = True) -> Any:
        """The JSON body, validated against ``schema`` from the OpenAPI document."""
        raw = self.request.body
        if not raw.strip():
            if required:
                raise BadRequest(
                    "the request needs a JSON body; see GET /openapi.json for its fields"
                )
            data: Any = {}
        else:
            try:
                data = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
            except (ValueError, RecursionError) as exc:
                raise BadRequest(f"the body is not valid JSON ({exc})") from None
            if b"\\u" in raw:
                _check_unicode(data)
        if schema:
            openapi.validate(schema, data)
        return data

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(value, Starting) or (isinstance(value, AIInfnError) and value.status < 500):
            return
        super().log_exception(typ, value, tb)
