"""``HubProcess``: JupyterHub, configurable-http-proxy and the jobs service on a sandbox.

JupyterHub runs in a child process with the configuration of :mod:`aiinfn_hub.hubconfig`; it
starts the proxy and the jobs service (a managed service) itself. ``stop()`` asks the hub to
shut down (it stops users' servers, the service and the proxy), then ends anything it started
that is still alive, so nothing is left behind even if the hub dies abruptly.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import urlopen

from .children import launch, log_tail, wait_ready
from .hubconfig import CHP, SERVICE, SandboxHub, extra_config, hub_config, write_config


class HubError(RuntimeError):
    """The hub did not start; the message carries the end of its log."""


def _stat(process: Path) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state, parent, ...), or None
    if the process is gone."""
    try:
        stat = (process / "stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, start time) of every live descendant of ``pid`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(entry)
        if fields is None:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        starts[int(entry.name)] = fields[19]
    found: list[tuple[int, str]] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append((child, starts[child]))
            todo.append(child)
    return found


def _alive(pid: int, start: str) -> bool:
    fields = _stat(Path(f"/proc/{pid}"))
    return fields is not None and fields[19] == start and fields[0] != "Z"


def end_processes(processes: list[tuple[int, str]], grace: float = 5.0) -> None:
    """SIGTERM the processes still alive (same pid and start time), SIGKILL after ``grace``."""
    alive = [p for p in processes if _alive(*p)]
    for pid, _ in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if _alive(*p)]
    for pid, _ in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class HubProcess:
    """JupyterHub for ``hub`` (a :class:`SandboxHub`) in a child process."""

    def __init__(self, hub: SandboxHub, *, startup_timeout: float = 90.0) -> None:
        self.hub = hub
        self.startup_timeout = startup_timeout
        self.log_path = hub.state_dir / "jupyterhub.log"
        self.proc: subprocess.Popen | None = None
        self._started: list[tuple[int, str]] = []

    @property
    def url(self) -> str:
        return self.hub.url

    def start(self) -> HubProcess:
        """Write the config, start JupyterHub, wait until the proxy routes to the hub and the
        jobs service; HubError (with the log) if that does not happen in time."""
        if not CHP.exists():
            raise HubError(
                f"configurable-http-proxy is not installed ({CHP} is missing): run `make demo`, "
                "or `npm ci --prefix tools/chp`"
            )
        self.hub.state_dir.mkdir(parents=True, exist_ok=True)
        path = self.hub.state_dir / "jupyterhub_config.py"
        config = write_config(hub_config(self.hub), path, extra_config())
        env = dict(os.environ, KUBECONFIG=str(self.hub.kubeconfig), PYTHONUNBUFFERED="1")
        env.pop("JUPYTERHUB_API_TOKEN", None)
        command = [sys.executable, "-m", "jupyterhub", "-f", str(config)]
        proc = self.proc = launch(command, self.log_path, env, cwd=self.hub.state_dir)

        def ready() -> bool:
            self._started = descendants(proc.pid) or self._started
            # the hub's API, and the jobs service refusing an anonymous call (not the proxy's 404)
            return self._answers("/hub/api/", (200,)) and self._answers(
                f"/services/{SERVICE}/jobs", (401, 403)
            )

        if wait_ready(proc, ready, self.startup_timeout, 0.2):
            self._started = descendants(proc.pid)
            return self
        tail = self.log_tail()
        self.stop()
        raise HubError(f"JupyterHub did not start (log: {self.log_path}):\n{tail}")

    def _answers(self, path: str, expected: tuple[int, ...]) -> bool:
        """The proxy routes ``path`` to its backend (which answers one of ``expected``)."""
        try:
            with urlopen(self.url + path, timeout=5) as response:
                return response.status in expected
        except HTTPError as exc:
            return exc.code in expected
        except (URLError, OSError):
            return False

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 60.0) -> int | None:
        """Stop the hub (it stops servers, service and proxy), then anything left of it."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        started = list({*self._started, *descendants(proc.pid)})
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        end_processes(started)
        return code

    def __enter__(self) -> HubProcess:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
