"""Where the server runs, as the spawner gave it, served to JupyterLab: site, fallbacks, and
a scratch home, in sentences; garbled or missing input gives what is known, never an error."""

from __future__ import annotations

import pytest

from aiinfn_hub.serverplace import PLACE_ENV, SITE_ENV, FallBackStep, ServerPlace

LEONARDO = ServerPlace(
    site="leonardo",
    site_name="CINECA Leonardo",
    remote=True,
    fell_back_from=(FallBackStep("CNAF Tier-1", "it is down: the connection to the site is lost"),),
    scratch_volumes=("home",),
    copy_back_bytes=2**30,
    ends_at=1_000_000 + 3 * 3600 + 60,
)


def test_the_place_goes_through_the_environment_unchanged():
    env = LEONARDO.to_env()
    assert env[SITE_ENV] == "leonardo"
    assert ServerPlace.from_env(env) == LEONARDO


def test_what_jupyterlab_shows():
    shown = LEONARDO.to_api(now=1_000_000)
    assert shown["summary"] == "CINECA Leonardo · fell back · scratch home"
    assert shown["fell_back"] and shown["scratch_home"] and shown["remote"]
    assert shown["message"] == (
        "Your server runs at CINECA Leonardo, after falling back from CNAF Tier-1 (it is "
        "down: the connection to the site is lost). Your home folder cannot be mounted there: "
        "this server's files are in a scratch folder, deleted when the server stops. When it "
        "stops, files you created or changed, up to 1Gi in all, are copied into your home "
        "folder (a folder named after the site, with a report of what was copied). CINECA "
        "Leonardo's time limit stops the server at 1970-01-12 16:47 UTC (in 3 h 01 min)."
    )
    assert shown["notice"] == (
        "Your home here is a scratch folder at CINECA Leonardo, deleted when the server stops; "
        "changed files are copied back."
    )
    assert len(shown["notice"]) <= 140  # JupyterLab's notices show no more
    local = ServerPlace(site="local", site_name="Local resources").to_api()
    assert local["summary"] == "Local resources"
    assert local["message"] == "Your server runs at Local resources."
    assert not local["scratch_home"] and not local["fell_back"] and local["notice"] == ""


@pytest.mark.parametrize("garbled", ["{not json", "[1, 2]", '{"fell_back_from": [{"x": 1}]}'])
def test_a_garbled_place_gives_the_site_alone(garbled):
    place = ServerPlace.from_env({PLACE_ENV: garbled, SITE_ENV: "tier1"})
    assert place == ServerPlace(site="tier1", site_name="tier1")
    assert ServerPlace.from_env({}).to_api()["message"] == ""


async def test_the_extension_serves_it(jp_fetch, monkeypatch):
    import json

    monkeypatch.setenv(PLACE_ENV, LEONARDO.to_env()[PLACE_ENV])
    response = await jp_fetch("aiinfn-hub", "api", "server")
    body = json.loads(response.body)
    assert body["site_name"] == "CINECA Leonardo"
    assert body["scratch_volumes"] == ["home"]
    assert body["summary"] == "CINECA Leonardo · fell back · scratch home"
