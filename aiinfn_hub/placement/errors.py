"""Typed errors of the placement engine: each says what is wrong and how to fix it.

They are the product's errors (:mod:`aiinfn_hub.errors`), made the same way (message first,
then the field) and answering with their class's HTTP status: a bad request field is a 400, a
job no site can run a 422, a misconfigured catalogue (an admin's error) a 500.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import AIInfnError, BadRequest, Unprocessable

if TYPE_CHECKING:
    from .plan import Exclusion


class PlacementError(AIInfnError):
    """Base class of every error the placement engine raises."""


class RequestError(PlacementError, BadRequest, ValueError):
    """A request field is invalid; ``field`` names it, the message gives the accepted form."""

    field: str

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message, field)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ConfigError(PlacementError, ValueError):
    """The site catalogue or the placement table is misconfigured (an admin's error)."""


class NoSiteError(PlacementError, Unprocessable):
    """No site can run the request; ``requirement`` names what nothing satisfies (the request
    field at fault), ``ruled_out`` the sites and why."""

    def __init__(
        self, message: str, requirement: str, ruled_out: tuple[Exclusion, ...] = ()
    ) -> None:
        self.requirement = requirement
        self.ruled_out = ruled_out
        super().__init__(message, requirement)
