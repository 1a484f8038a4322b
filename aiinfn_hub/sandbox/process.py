"""``SandboxProcess``: the sandbox in a child process, driven over its admin endpoints.

Tests, the demo and other services use it to get a cluster that lives as long as they need:
``start()`` waits for health, ``faults`` switches faults, ``reset()`` empties it, ``stop()``
ends it and everything it started (its process group; the child also dies with its parent).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from ..children import launch, log_tail, wait_ready
from .faults import FaultSwitches
from .kubeconfig import read_kubeconfig

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class AdminClient:
    """JSON over HTTP to a sandbox's ``/sandbox/v1/`` endpoints."""

    def __init__(self, url: str, token: str | None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = Request(f"{self.url}/sandbox/v1/{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("message", str(exc))
            except ValueError:
                message = str(exc)
            raise RuntimeError(f"sandbox {method} {path}: {exc.code} {message}") from None

    def healthy(self) -> bool:
        try:
            return bool(self.request("GET", "healthz").get("ok"))
        except (URLError, OSError, RuntimeError, ValueError):
            return False


class RemoteFaults(FaultSwitches):
    """The fault API of a sandbox in another process."""

    def __init__(self, client: AdminClient) -> None:
        self.client = client

    def _apply(self, request: dict[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in request.items() if v is not None}
        if request.get("fault") == "clear":
            return self.client.request("DELETE", "faults")
        return self.client.request("POST", "faults", body)

    def state(self) -> dict[str, Any]:
        return self.client.request("GET", "faults")


class SandboxProcess:
    """``python -m aiinfn_hub.sandbox up`` in a child process group."""

    def __init__(
        self,
        port: int | None = None,
        config: str | Path | None = None,
        state_dir: str | Path | None = None,
        kubeconfig: str | Path | None = None,
        *,
        python: str = sys.executable,
        startup_timeout: float = 30.0,
        env: dict[str, str] | None = None,
        kueue: bool = True,
    ) -> None:
        self.port = port or free_port()
        self.config = config
        self._tmp = None if state_dir else tempfile.TemporaryDirectory(prefix="aiinfn-sandbox-")
        self.state_dir = Path(state_dir or self._tmp.name)  # type: ignore[union-attr]
        self.kubeconfig = Path(kubeconfig or self.state_dir / "kubeconfig")
        self.log_path = self.state_dir / "sandbox.log"
        self.python = python
        self.startup_timeout = startup_timeout
        self.env = env
        self.kueue = kueue
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"
        self.token: str | None = None
        self.admin = AdminClient(self.url, None)
        self.faults = RemoteFaults(self.admin)

    def command(self) -> list[str]:
        cmd = [self.python, "-m", "aiinfn_hub.sandbox", "up", "--port", str(self.port)]
        cmd += [
            "--kubeconfig",
            str(self.kubeconfig),
            "--state-dir",
            str(self.state_dir),
            "--exit-with-parent",
        ]
        if self.config:
            cmd += ["--config", str(self.config)]
        if not self.kueue:
            cmd.append("--without-kueue")
        return cmd

    def start(self) -> SandboxProcess:
        """Start the child and wait until it answers healthz; RuntimeError with its log if not."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.kubeconfig.unlink()
        env = dict(os.environ if self.env is None else self.env)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p
        )
        self.proc = launch(self.command(), self.log_path, env)

        def ready() -> bool:
            if not self.kubeconfig.exists():
                return False
            self.url, self.token = read_kubeconfig(self.kubeconfig)
            self.admin.url, self.admin.token = self.url, self.token
            return self.admin.healthy()

        if wait_ready(self.proc, ready, self.startup_timeout, 0.05):
            return self
        tail = self.log_tail()
        self.stop()
        raise RuntimeError(f"the sandbox did not start (see {self.log_path}):\n{tail}")

    def log_tail(self, lines: int = 30) -> str:
        return log_tail(self.log_path, lines)

    def reset(self) -> dict[str, Any]:
        """Delete every object, stop every pod, clear faults and the audit trail, and lay the
        topology anew."""
        return self.admin.request("POST", "reset")

    def audit(self, since: int = 0, user_agent: str = "") -> dict[str, Any]:
        """The audit trail after entry ``since``: ``{items, last, lost}`` (see ``.audit``),
        only requests whose User-Agent starts with ``user_agent``."""
        query = urlencode({"since": since, "userAgent": user_agent})
        return self.admin.request("GET", f"audit?{query}")

    def info(self) -> dict[str, Any]:
        return self.admin.request("GET", "info")

    def compact(self) -> int:
        """Drop the watch event log (as etcd compaction): older resourceVersions answer 410."""
        return int(self.admin.request("POST", "compact")["compactedResourceVersion"])

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (the sandbox stops its pods), then SIGKILL the whole group if needed."""
        proc, self.proc = self.proc, None
        code = None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                code = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                code = None
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            if code is None:
                code = proc.wait()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        return code

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
