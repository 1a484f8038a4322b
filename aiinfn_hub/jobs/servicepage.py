"""The service's own page, where JupyterHub's Services menu links (``/services/aiinfn-jobs/``):
what the service is, the signed-in user's jobs at a glance, a link to JupyterLab's panel and the
API reference rendered from the OpenAPI document. Everything is rendered here, on the server:
the page loads nothing from anywhere (its Content-Security-Policy says so).

A browser gets the page; an API client (``Accept: application/json``) gets a JSON index of the
same links. Authentication is every handler's (:class:`.apibase.APIHandler`): a browser
without a session is sent to the hub's login.
"""

from __future__ import annotations

import json
import os
import re
from html import escape
from typing import Any
from urllib.parse import quote

from . import openapi
from .apibase import APIHandler

#: How many of the user's jobs the page lists (newest first).
SHOWN_JOBS = 20
_METHODS = ("get", "post", "put", "patch", "delete")
_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem;
       padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #ddd; }
code { background: #f3f3f3; padding: 0 .2rem; }
.method { font-weight: bold; text-transform: uppercase; width: 4.5rem; }
.muted { color: #666; }
"""


def hub_base_url() -> str:
    """The hub's base URL (``/`` unless JupyterHub runs under a prefix), as the hub tells its
    services in ``JUPYTERHUB_BASE_URL``."""
    base = os.environ.get("JUPYTERHUB_BASE_URL", "/")
    return base if base.endswith("/") else base + "/"


def lab_url(user: str) -> str:
    """The user's JupyterLab (its Background jobs panel), as JupyterHub escapes a user's name."""
    return f"{hub_base_url()}user/{quote(user, safe='@~')}/lab"


def _jobs_table(jobs: list[dict[str, Any]], total: int) -> str:
    if not jobs:
        return "<p>You have no background jobs yet.</p>"
    rows = "".join(
        "<tr>"
        f"<td>{escape(job.get('name') or job['id'])}</td>"
        f"<td>{escape(job['state'])}</td>"
        f"<td>{escape(job.get('site_display') or job.get('site') or 'not placed yet')}</td>"
        f"<td class='muted'>{escape(job.get('submitted') or '')}</td>"
        "</tr>"
        for job in jobs
    )
    more = (
        f"<p class='muted'>The newest {len(jobs)} of your {total} jobs.</p>"
        if total > len(jobs)
        else ""
    )
    head = "<tr><th>Job</th><th>State</th><th>Site</th><th>Submitted</th></tr>"
    return f"<table>{head}{rows}</table>{more}"


def _prose(text: str) -> str:
    """The OpenAPI document's description as HTML: escaped, its ``code`` spans as code."""
    escaped = escape(" ".join(text.split()))
    return re.sub(r"``?([^`]+)``?", r"<code>\1</code>", escaped)


def _api_reference(document: dict[str, Any], prefix: str) -> str:
    """Each path's operations with their summaries, as a table."""
    rows = []
    for path, operations in (document.get("paths") or {}).items():
        for method in _METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            rows.append(
                "<tr>"
                f"<td class='method'>{method}</td>"
                f"<td><code>{escape(prefix + path)}</code></td>"
                f"<td>{escape(operation.get('summary') or '')}</td>"
                "</tr>"
            )
    return f"<table>{''.join(rows)}</table>"


def render_page(
    *,
    user: str,
    jobs: list[dict[str, Any]],
    total: int,
    document: dict[str, Any],
    prefix: str,
) -> str:
    """The page's HTML for ``user``, from their newest ``jobs`` (of ``total``) and the OpenAPI
    ``document``; ``prefix`` is where the service is served (``/services/aiinfn-jobs``)."""
    info = document.get("info") or {}
    title = escape(info.get("title") or "Background jobs")
    lab = escape(lab_url(user))
    spec = escape(f"{prefix}/openapi.json")
    version = escape(str(info.get("version") or ""))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>{title}</h1>
<p>{_prose(info.get("description") or "")}</p>
<p>Signed in as <strong>{escape(user)}</strong>. Submit and follow jobs from
<a href="{lab}">JupyterLab's Background jobs panel</a> (right-click a notebook or script,
<em>Run as background job</em>).</p>
<h2>Your jobs</h2>
{_jobs_table(jobs, total)}
<h2>API reference</h2>
<p>Send your JupyterHub API token as <code>Authorization: token &lt;token&gt;</code>.
The full OpenAPI document:
<a href="{spec}"><code>{spec}</code></a> (version {version}).</p>
{_api_reference(document, prefix)}
</body>
</html>
"""


class ServicePageHandler(APIHandler):
    """``GET /``: the page for a browser, a JSON index for an API client. (Not an operation of
    the OpenAPI document, which describes the API; it takes no query.)"""

    async def get(self) -> None:
        prefix = self.request.path.rstrip("/")
        if "text/html" not in self.request.headers.get("Accept", ""):
            self.write_json(
                {
                    "service": "aiinfn-jobs",
                    "openapi": f"{prefix}/openapi.json",
                    "jobs": f"{prefix}/jobs",
                    "lab": lab_url(self.who.name),
                }
            )
            return
        listed = json.loads(
            self.manager.list_json(self.who.name, False, owner=None, limit=SHOWN_JOBS)
        )
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.finish(
            render_page(
                user=self.who.name,
                jobs=listed["jobs"],
                total=listed["total"],
                document=openapi.document(),
                prefix=prefix,
            )
        )
