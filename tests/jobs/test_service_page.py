"""The service page's HTML, rendered from the OpenAPI document and a user's jobs: text is
escaped, never markup; the hub's base URL and a user's name make the JupyterLab link."""

from __future__ import annotations

import pytest

from aiinfn_hub.jobs import openapi
from aiinfn_hub.jobs.servicepage import lab_url, render_page


def test_names_are_text_not_markup() -> None:
    jobs = [{"id": "a1", "name": "<b>x</b> & y", "state": "running", "site": "tier1",
             "site_display": "CNAF <Tier-1>", "submitted": "2026-01-01T00:00:00Z"}]  # fmt: skip
    html = render_page(
        user="<script>o'brien</script>", jobs=jobs, total=30, document=openapi.document(),
        prefix="/services/aiinfn-jobs",
    )  # fmt: skip
    assert "<script" not in html and "<b>x" not in html
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in html and "CNAF &lt;Tier-1&gt;" in html
    assert "The newest 1 of your 30 jobs." in html
    assert (
        render_page(user="u", jobs=[], total=0, document=openapi.document(), prefix="/p").count(
            "You have no background jobs yet."
        )
        == 1
    )


@pytest.mark.parametrize(
    ("base", "user", "url"),
    [
        ("/", "mario.rossi@infn.it", "/user/mario.rossi@infn.it/lab"),
        ("/jhub/", "Anna Bianchi", "/jhub/user/Anna%20Bianchi/lab"),
        ("/jhub", "a/b", "/jhub/user/a%2Fb/lab"),
    ],
)
def test_the_lab_link_is_the_users_server_under_the_hubs_base_url(
    monkeypatch: pytest.MonkeyPatch, base: str, user: str, url: str
) -> None:
    monkeypatch.setenv("JUPYTERHUB_BASE_URL", base)
    assert lab_url(user) == url
