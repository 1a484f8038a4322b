"""Errors the jobs service returns to users: an HTTP status and words that say what to do."""

from __future__ import annotations


class JobsError(Exception):
    """A 4xx (or 503) answer: ``status``, a message for people and the field at fault, if any."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        self.status = status
        self.message = message
        self.field = field
        super().__init__(message)

    def to_dict(self) -> dict:
        body = {"error": self.message, "status": self.status}
        if self.field:
            body["field"] = self.field
        return body


class NotFound(JobsError):
    def __init__(self, message: str) -> None:
        super().__init__(404, message)


class BadRequest(JobsError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(400, message, field)


class ClusterUnavailable(JobsError):
    """Kubernetes failed after retries: said plainly, with what the user can do."""

    def __init__(self, message: str) -> None:
        super().__init__(503, message)


class Starting(JobsError):
    """The service is still reading its jobs from Kubernetes (a moment after a restart)."""

    def __init__(self) -> None:
        super().__init__(
            503,
            "the jobs service is starting (reading the jobs from Kubernetes); try again in a "
            "few seconds",
        )
