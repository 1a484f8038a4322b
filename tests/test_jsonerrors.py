"""One way to answer an error: the jobs service's handlers and the server extension's write
their JSON error bodies through the same code (:mod:`aiinfn_hub.jsonerrors`), each with its
own words for where the routes are and for the unexpected."""

from __future__ import annotations

import json

from tornado import web
from tornado.testing import AsyncHTTPTestCase

from aiinfn_hub.errors import Conflict
from aiinfn_hub.jobs.handlers import APIHandler as ServiceHandler
from aiinfn_hub.jsonerrors import JSONErrors
from aiinfn_hub.serverext.handlers import BaseHandler as ExtensionHandler


def test_both_apis_answer_errors_through_one_function() -> None:
    assert ServiceHandler.write_error is JSONErrors.write_error
    assert ExtensionHandler.write_error is JSONErrors.write_error
    assert ServiceHandler.routes_hint == "GET /openapi.json"
    assert ExtensionHandler.routes_hint == "the routes in aiinfn-hub/api"


class _Handler(JSONErrors):
    routes_hint = "the manual"
    unexpected = "something broke; try again"

    def get(self, what: str) -> None:
        if what == "conflict":
            raise Conflict("the job has ended already; run it again instead", "id")
        if what == "gone":
            raise web.HTTPError(410, "the page moved to /elsewhere")
        if what == "anonymous":
            raise web.HTTPError(401)
        raise RuntimeError("a bug")


class JSONErrorsTest(AsyncHTTPTestCase):
    def get_app(self) -> web.Application:
        return web.Application([(r"/(\w+)", _Handler)])

    def answer(self, path: str, method: str = "GET") -> tuple[int, dict[str, object], object]:
        body = b"{}" if method == "POST" else None
        response = self.fetch(path, method=method, body=body, raise_error=False)
        assert response.headers["Content-Type"] == "application/json"
        return response.code, json.loads(response.body), response.headers

    def test_a_product_error_answers_with_its_status_words_and_field(self) -> None:
        status, body, _ = self.answer("/conflict")
        assert (status, body) == (
            409,
            {
                "error": "the job has ended already; run it again instead",
                "status": 409,
                "field": "id",
            },
        )

    def test_a_method_not_taken_names_those_taken(self) -> None:
        status, body, headers = self.answer("/conflict", "POST")
        assert status == 405
        assert body == {
            "error": "POST is not allowed here; use GET (see the manual)",
            "status": 405,
        }
        assert headers["Allow"] == "GET"  # type: ignore[index]

    def test_a_tornado_error_keeps_its_status_and_words(self) -> None:
        status, body, _ = self.answer("/gone")
        assert (status, body) == (410, {"error": "the page moved to /elsewhere", "status": 410})
        status, body, headers = self.answer("/anonymous")
        assert (status, body) == (401, {"error": "Unauthorized", "status": 401})
        assert headers["WWW-Authenticate"] == "token"  # type: ignore[index]

    def test_the_unexpected_is_said_in_the_handlers_words(self) -> None:
        status, body, _ = self.answer("/bug")
        assert (status, body) == (500, {"error": "something broke; try again", "status": 500})
