"""One error hierarchy: one way to make an error, the HTTP status a property of its class, and
placement's errors answering as the product's own."""

from __future__ import annotations

import pytest

from aiinfn_hub import errors as E
from aiinfn_hub.placement import ConfigError, NoSiteError, Placer, RequestError, SiteHealth
from aiinfn_hub.placement.quantities import parse_memory


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (E.BadRequest, 400),
        (E.Unauthorized, 401),
        (E.Forbidden, 403),
        (E.NotFound, 404),
        (E.Conflict, 409),
        (E.TooLarge, 413),
        (E.Unprocessable, 422),
        (E.AIInfnError, 500),
        (E.BadGateway, 502),
        (E.ClusterUnavailable, 503),
        (E.Starting, 503),
        (RequestError, 400),
        (NoSiteError, 422),
        (ConfigError, 500),
    ],
)
def test_the_status_is_the_classs(cls, status):
    assert cls.status == status
    assert issubclass(cls, E.AIInfnError)


def test_message_then_field_and_the_json_body():
    error = E.Forbidden("only admins can list another user's jobs", "user")
    assert (error.message, error.field, str(error)) == (
        "only admins can list another user's jobs",
        "user",
        "only admins can list another user's jobs",
    )
    assert error.to_dict() == {
        "error": "only admins can list another user's jobs",
        "status": 403,
        "field": "user",
    }
    assert E.NotFound("no job 'x'").to_dict() == {"error": "no job 'x'", "status": 404}
    assert E.Starting().to_dict()["status"] == 503


def test_a_placement_request_error_is_a_bad_request_naming_its_field():
    with pytest.raises(E.BadRequest) as info:
        parse_memory("8 gigs")
    assert info.value.to_dict() == {
        "error": "expected a size such as 8Gi, 512Mi, 4G or a number of bytes, got '8 gigs'",
        "status": 400,
        "field": "memory",
    }
    assert str(info.value).startswith("memory: expected a size")
    assert isinstance(info.value, ValueError)


def test_no_site_is_a_422_naming_the_requirement():
    placer = Placer()
    request = placer.parse({"cpu": 1, "memory": "1Gi", "local_only": True})
    with pytest.raises(E.Unprocessable) as info:
        placer.plan(request, {"local": SiteHealth(ready=False, message="down for repairs")})
    assert isinstance(info.value, NoSiteError)
    assert info.value.status == 422
    assert info.value.field == info.value.requirement == "health"


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, E.BadRequest), (403, E.Forbidden), (404, E.NotFound), (503, E.ClusterUnavailable)],
)
def test_a_relayed_status_gets_its_class(status, cls):
    error = E.error_for_status(status, "from the jobs service", "path")
    assert type(error) is cls
    assert error.to_dict() == {"error": "from the jobs service", "status": status, "field": "path"}


def test_a_relayed_status_without_a_class_keeps_its_status():
    teapot = E.error_for_status(418, "short and stout")
    assert isinstance(teapot, E.AIInfnError)
    assert teapot.status == 418
    assert teapot.to_dict() == {"error": "short and stout", "status": 418}
    assert type(E.error_for_status(418, "again")) is type(teapot)
