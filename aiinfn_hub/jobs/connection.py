"""Where the users' Python API (:mod:`aiinfn_hub.jobs.client`) sends its requests, and how:
one :class:`Connection`, found once, with the standard library only (a user's kernel has
nothing else to rely on).

Where requests go, first match wins:

1. ``$AIINFN_JOBS_API`` (or :func:`connect`): a server extension's ``.../aiinfn-hub/api/`` or
   the hub's jobs service itself, with ``$AIINFN_JOBS_TOKEN`` or ``$JUPYTERHUB_API_TOKEN``;
2. the Jupyter server this code runs in, found in Jupyter's runtime directory: the kernel's
   parent (``$JPY_PARENT_PID``), the server of a JupyterLab terminal (``$JUPYTER_SERVER_URL``),
   else the server whose root holds the current directory;
3. ``$JUPYTER_SERVER_URL`` or ``$JUPYTERHUB_SERVICE_URL`` with ``$JUPYTERHUB_API_TOKEN``.

Errors raise :class:`JobsClientError` with the server's own words.
"""

from __future__ import annotations

import builtins
import http.client
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

EXTENSION_PATH = "aiinfn-hub/api/"


class JobsClientError(Exception):
    """The server refused or failed: ``status`` (0: not reached) and its message."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


class Connection:
    """Where the API is and how to authenticate; ``kind`` is 'extension' or 'service'."""

    def __init__(
        self,
        url: str,
        token: str = "",
        kind: str = "extension",
        root: str = "",
        timeout: float = 60.0,
    ) -> None:
        self.url = url.rstrip("/") + "/"
        self.token = token
        self.kind = kind
        self.root = root
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Connection({self.url!r}, kind={self.kind!r})"

    @classmethod
    def discover(cls, env: dict[str, str] | None = None) -> Connection:
        """The API of this environment (see the module's docstring)."""
        env = dict(os.environ if env is None else env)
        hub_token = env.get("JUPYTERHUB_API_TOKEN", "")
        explicit = env.get("AIINFN_JOBS_API")
        if explicit:
            return cls(explicit, env.get("AIINFN_JOBS_TOKEN") or hub_token, _kind(explicit))
        server = _running_server(env)
        if server is not None:
            url = server["url"].replace("://0.0.0.0:", "://127.0.0.1:")
            return cls(
                url.rstrip("/") + "/" + EXTENSION_PATH,
                server.get("token") or hub_token,
                "extension",
                server.get("root_dir") or env.get("JUPYTER_SERVER_ROOT", ""),
            )
        url = env.get("JUPYTER_SERVER_URL") or env.get("JUPYTERHUB_SERVICE_URL")
        if url:
            url = url.replace("://0.0.0.0:", "://127.0.0.1:")
            root = env.get("JUPYTER_SERVER_ROOT", "")
            return cls(url.rstrip("/") + "/" + EXTENSION_PATH, hub_token, "extension", root)
        raise JobsClientError(
            0,
            "no Jupyter server was found: run this in JupyterLab (a notebook or a terminal) "
            "or next to a running 'jupyter lab', or set AIINFN_JOBS_API (and AIINFN_JOBS_TOKEN)",
        )

    def request(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        """One call; the JSON answer, or :class:`JobsClientError` in the server's words."""
        query = {k: v for k, v in query.items() if v is not None}
        url = self.url + path + (f"?{urlencode(query)}" if query else "")
        data = json.dumps(body).encode() if body is not None else None
        if data is None and method in ("POST", "PUT"):
            data = b""
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"token {self.token}"
        try:
            request = urllib.request.Request(url, data=data, headers=headers, method=method)
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as exc:
            raise JobsClientError(exc.code, self._error(exc)) from None
        except urllib.error.URLError as exc:
            raise JobsClientError(
                0, f"cannot reach {self.url} ({exc.reason}); is the server running?"
            ) from None
        except (TimeoutError, ConnectionError) as exc:
            raise JobsClientError(0, f"no answer from {self.url} ({exc})") from None
        except (ValueError, http.client.InvalidURL):  # not a URL, or with spaces in it
            raise JobsClientError(
                0, f"{self.url} is not a URL; give one like http://127.0.0.1:8888/aiinfn-hub/api/"
            ) from None
        try:
            return json.loads(text or b"null")
        except ValueError:
            raise JobsClientError(
                status,
                f"{self.url} answered with something other than JSON: give the URL of a server's "
                f".../{EXTENSION_PATH} or of the jobs service",
            ) from None

    def _error(self, exc: urllib.error.HTTPError) -> str:
        try:
            data = json.loads(exc.read())
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            found: str = data["error"]
            return found
        if exc.code == 404 and self.kind == "extension":
            return (
                f"the Jupyter server at {self.url.removesuffix(EXTENSION_PATH)} has no aiinfn-hub "
                "extension; install aiinfn-hub in the server's environment and restart it"
            )
        if exc.code == 403:
            return f"{self.url} refused the token; check AIINFN_JOBS_TOKEN or log in again"
        return f"{self.url} answered {exc.code} {exc.reason}"


def job_path(job_id: str, tail: str = "") -> str:
    """The API path of a job, its id quoted: any text is one id, never another route."""
    return f"jobs/{quote(str(job_id), safe='')}{tail}"


def _kind(url: str) -> str:
    return "extension" if "/aiinfn-hub/api" in url else "service"


def running_servers(runtime_dir: str | None = None) -> builtins.list[dict[str, Any]]:
    """The Jupyter servers whose ``jpserver-<pid>.json`` is in the runtime directory and whose
    process is alive (what ``jupyter server list`` shows, without importing the server)."""
    from jupyter_core.paths import jupyter_runtime_dir

    found = []
    for path in sorted(Path(runtime_dir or jupyter_runtime_dir()).glob("jpserver-*.json")):
        try:
            info = json.loads(path.read_text())
            os.kill(int(info["pid"]), 0)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(info.get("url"), str):
            found.append(info)
    return found


def _running_server(env: dict[str, str]) -> dict[str, Any] | None:
    """The Jupyter server that this process belongs to, from Jupyter's runtime directory."""
    servers = running_servers(env.get("JUPYTER_RUNTIME_DIR"))
    if not servers:
        return None
    parent = env.get("JPY_PARENT_PID")
    for server in servers:
        if parent and str(server.get("pid")) == parent:
            return server
    wanted = env.get("JUPYTER_SERVER_URL", "").rstrip("/")
    for server in servers:
        if wanted and server["url"].rstrip("/") == wanted:
            return server
    here = Path.cwd().resolve()
    for server in sorted(servers, key=lambda s: len(s.get("root_dir") or ""), reverse=True):
        root = Path(server.get("root_dir") or "/").expanduser().resolve()
        if here == root or root in here.parents:
            return server
    return max(servers, key=lambda s: s.get("pid", 0))


_connection: Connection | None = None


def connection() -> Connection:
    """The connection in use, discovered on first use."""
    global _connection
    if _connection is None:
        _connection = Connection.discover()
    return _connection


def connect(url: str, token: str = "", kind: str | None = None, root: str = "") -> Connection:
    """Use this API from now on: a server extension's ``.../aiinfn-hub/api/``, or the jobs
    service's URL with a token."""
    global _connection
    _connection = Connection(url, token, kind or _kind(url), root)
    return _connection
