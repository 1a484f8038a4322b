"""How every JSON API of the product answers an error: the jobs service's handlers
(:mod:`aiinfn_hub.jobs.handlers`) and the server extension's (:mod:`aiinfn_hub.serverext.handlers`)
both write their errors through :class:`JSONErrors`, so the body is always the ``Error`` schema
of ``openapi.yaml`` (``{"error", "status", "field"}``, :class:`~aiinfn_hub.errors.ErrorBody`):

- an :class:`~aiinfn_hub.errors.AIInfnError` answers with its own status and words;
- a method the route does not take is a 405 naming the ones it does (and an ``Allow`` header);
- another tornado or Jupyter Server error under 500 keeps its status, in the handler's words
  (:meth:`JSONErrors.plain_words`);
- anything else is the handler's :attr:`~JSONErrors.unexpected` words (the traceback goes to
  the log, never to the caller).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any, ClassVar

from tornado import web

from .errors import AIInfnError, ErrorBody

#: The methods the product's JSON routes answer (a 405 names those the route takes).
METHODS = ("GET", "POST", "DELETE")


class JSONErrors(web.RequestHandler):
    """A tornado handler base (or mixin, placed before a Jupyter Server handler) whose every
    error is a JSON :class:`~aiinfn_hub.errors.ErrorBody`."""

    #: Where a caller sent a 405 finds the routes, e.g. ``GET /openapi.json``.
    routes_hint: ClassVar[str] = "the API's documentation"
    #: The words of an error nobody foresaw.
    unexpected: ClassVar[str] = "the service hit an unexpected error; it is logged: try again"

    @classmethod
    def takes(cls, method: str) -> bool:
        """Whether this handler answers ``method`` (rather than tornado's 405)."""
        return getattr(cls, method.lower()) is not getattr(web.RequestHandler, method.lower())

    def plain_words(self, status_code: int, exc: web.HTTPError) -> str:
        """The words of a tornado (or Jupyter Server) error under 500: its message, else the
        status's reason phrase. A handler whose framework raises errors without words of
        their own says more here."""
        return exc.log_message or self._reason

    def error_body(self, status_code: int, exc: BaseException | None) -> ErrorBody:
        """The body (and the headers) of the answer to ``exc``, which ended the request with
        ``status_code``."""
        if isinstance(exc, AIInfnError):
            self.set_status(exc.status)
            return exc.to_dict()
        if status_code == HTTPStatus.METHOD_NOT_ALLOWED:
            allowed = [m for m in METHODS if type(self).takes(m)]
            self.set_header("Allow", ", ".join(allowed))
            return {
                "error": f"{self.request.method} is not allowed here; use "
                f"{' or '.join(allowed) or 'another endpoint'} (see {self.routes_hint})",
                "status": status_code,
            }
        if isinstance(exc, web.HTTPError) and status_code < HTTPStatus.INTERNAL_SERVER_ERROR:
            return {"error": self.plain_words(status_code, exc), "status": status_code}
        return {"error": self.unexpected, "status": status_code}

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Answer the error that ended the request as JSON (tornado calls this)."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        body = self.error_body(status_code, exc)
        if body["status"] == HTTPStatus.UNAUTHORIZED:
            self.set_header("WWW-Authenticate", "token")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))
