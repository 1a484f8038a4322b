"""Typed errors of the placement engine: each says what is wrong and how to fix it."""

from __future__ import annotations


class PlacementError(Exception):
    """Base class of every error the placement engine raises."""


class RequestError(PlacementError, ValueError):
    """A request field is invalid; ``field`` names it, the message gives the accepted form."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class ConfigError(PlacementError, ValueError):
    """The site catalogue or the placement table is misconfigured (an admin's error)."""


class NoSiteError(PlacementError):
    """No site can run the request; ``requirement`` names what nothing satisfies."""

    def __init__(self, requirement: str, message: str, ruled_out: tuple = ()) -> None:
        self.requirement = requirement
        self.ruled_out = ruled_out
        super().__init__(message)
