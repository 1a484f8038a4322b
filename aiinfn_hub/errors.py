"""The one error hierarchy of the product: words for people (what is wrong and how to fix it),
the field at fault where there is one, and the HTTP status each kind of error answers with.

Every error a user or an admin may read derives from :class:`AIInfnError`, and every one is made
the same way, ``SomeError(message, field=None)``. The status is a property of the class, so a
handler turns any of them into the JSON body ``{"error", "status", "field"}`` in one place
(:meth:`AIInfnError.to_dict`), whether it comes from placement, the jobs service or the server
extension. Placement's errors (:mod:`aiinfn_hub.placement.errors`) derive from these too.
"""

from __future__ import annotations

import functools
from http import HTTPStatus
from typing import ClassVar, TypedDict


class _ErrorBodyRequired(TypedDict):
    error: str
    status: int


class ErrorBody(_ErrorBodyRequired, total=False):
    """The JSON body of every 4xx and 5xx answer (the ``Error`` schema of ``openapi.yaml``)."""

    field: str


class AIInfnError(Exception):
    """Base class of every error the product reports in words: ``message`` for people, the
    ``field`` at fault (if any), and the class's HTTP ``status``."""

    status: ClassVar[int] = HTTPStatus.INTERNAL_SERVER_ERROR

    def __init__(self, message: str, field: str | None = None) -> None:
        self.message = message
        self.field = field
        super().__init__(message)

    def to_dict(self) -> ErrorBody:
        """The JSON body of the answer."""
        body: ErrorBody = {"error": self.message, "status": int(self.status)}
        if self.field:
            body["field"] = self.field
        return body


class BadRequest(AIInfnError):
    """The request is malformed or a field is invalid; the message gives the accepted form."""

    status = HTTPStatus.BAD_REQUEST


class Unauthorized(AIInfnError):
    """No credentials, or ones nobody issued."""

    status = HTTPStatus.UNAUTHORIZED


class Forbidden(AIInfnError):
    """The caller may not do this (another user's jobs, an image or volume not shared)."""

    status = HTTPStatus.FORBIDDEN


class NotFound(AIInfnError):
    """No such job, file or endpoint (among what the caller may see)."""

    status = HTTPStatus.NOT_FOUND


class Conflict(AIInfnError):
    """The request does not fit the job's state now (cancelling an ended job)."""

    status = HTTPStatus.CONFLICT


class TooLarge(AIInfnError):
    """What was sent is over a limit (a staged file, a page of jobs)."""

    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class Unprocessable(AIInfnError):
    """A valid request that cannot be done as asked (no site can run it, no home volume)."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY


class BadGateway(AIInfnError):
    """A service this one relies on answered with something it cannot use."""

    status = HTTPStatus.BAD_GATEWAY


class ClusterUnavailable(AIInfnError):
    """Kubernetes (or the jobs service) failed after retries: said plainly, with what the
    user can do."""

    status = HTTPStatus.SERVICE_UNAVAILABLE


class Starting(ClusterUnavailable):
    """The service is still reading its jobs from Kubernetes (a moment after a restart)."""

    def __init__(
        self,
        message: str = (
            "the jobs service is starting (reading the jobs from Kubernetes); try again in a "
            "few seconds"
        ),
        field: str | None = None,
    ) -> None:
        super().__init__(message, field)


#: The class of each status, for errors relayed from another service.
_BY_STATUS: dict[int, type[AIInfnError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        TooLarge,
        Unprocessable,
        AIInfnError,
        BadGateway,
        ClusterUnavailable,
    )
}


@functools.cache
def _class_of(status: int) -> type[AIInfnError]:
    """A class for a status none of the above answers with (made once per status)."""
    return type(f"AIInfnError{status}", (AIInfnError,), {"status": status})


def error_for_status(status: int, message: str, field: str | None = None) -> AIInfnError:
    """The error another service answered with, relayed with its status: an instance of the
    class of that status (``NotFound`` for 404, and so on)."""
    cls = _BY_STATUS.get(status) or _class_of(status)
    return cls(message, field)
