"""The jobs service's own page, where JupyterHub's Services menu links: through the real hub
and its proxy, a browser is sent to log in, then sees what the service is, its jobs, a link to
its JupyterLab and the API reference; an API client still gets JSON."""

from __future__ import annotations

import re
from html import unescape

from aiinfn_hub.jobs import openapi
from aiinfn_hub.jobs.model import State

from .conftest import HubClient

PAGE = "/services/aiinfn-jobs/"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
USER = "mario.rossi@infn.it"


async def test_a_browser_without_a_session_is_sent_to_the_hubs_login(hub: HubClient) -> None:
    async with hub.client(follow_redirects=True) as http:
        page = await http.get(PAGE, headers=HTML)
    assert page.status_code == 200
    assert page.url.path == "/hub/login", page.url
    assert "aiinfn-jobs" not in page.url.path


async def test_the_services_page_shows_the_users_jobs_their_lab_and_the_api(
    hub: HubClient,
) -> None:
    token = await hub.user_token(USER)
    headers = {"Authorization": f"token {token}"}
    body = {
        "name": "pi estimate_v2.1",
        "command": ["python", "-c", "print(3.14)"],
        "image": "aiinfn-hub/singleuser:sandbox",
        "resources": {"cpu": 1},
    }
    async with hub.client() as http:
        made = await http.post(f"{PAGE}jobs", json=body, headers=headers)
        assert made.status_code == 201, made.text
        job = made.json()
        # an API client asking for JSON still gets JSON, at the page's address and the API's
        index = await http.get(PAGE, headers=headers | {"Accept": "application/json"})
        assert index.headers["Content-Type"].startswith("application/json")
        assert index.json()["openapi"] == "/services/aiinfn-jobs/openapi.json"
        listed = await http.get(f"{PAGE}jobs", headers=headers | HTML)
        assert listed.json()["jobs"][0]["id"] == job["id"]
        sites = (await http.get(f"{PAGE}sites", headers=headers)).json()["sites"]
        missing = await http.get(f"{PAGE}nothing-here", headers=headers)
        assert missing.status_code == 404 and "no such endpoint" in missing.json()["error"]

    async with hub.login(USER) as browser:
        page = await browser.get(PAGE, headers=HTML)
    assert page.status_code == 200, page.text[:500]
    assert page.url.path == PAGE
    assert page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    html = page.text
    text = unescape(re.sub(r"<[^>]+>", " ", html))
    words = " ".join(text.split())
    # what the service is, and who is signed in
    assert "Background jobs for AI_INFN users" in words
    assert f"Signed in as {USER}" in words
    # the user's job at a glance: its name, state and site
    row = re.search(r"<tr><td>pi estimate_v2.1</td><td>(\w+)</td><td>([^<]+)</td>", html)
    assert row is not None, html
    assert row.group(1) in {state.value for state in State}, row.group(1)
    assert row.group(2) in {s["display_name"] for s in sites} | {"not placed yet"}
    # JupyterLab's panel, at the user's own server (JupyterHub's escaping of the name)
    assert 'href="/user/mario.rossi@infn.it/lab"' in html
    # the API reference: every operation of the OpenAPI document, with its summary
    for path, operations in openapi.document()["paths"].items():
        for method, operation in operations.items():
            if method in ("get", "post", "delete"):
                assert f"/services/aiinfn-jobs{path}" in html
                assert unescape(operation["summary"]) in text, operation["summary"]
    # nothing is fetched from anywhere: no script, no external stylesheet or image
    assert not re.search(r"<script|<link|<img|https?://", html)
