"""The control plane's child processes: started in order, each waited on until it answers,
stopped together, and killed by the kernel if ``aiinfn-hub cluster up`` itself dies.

Each child runs in a session of its own (a signal to its group reaches what it spawned) and
under util-linux's ``setpriv --pdeathsig KILL`` where available, so nothing outlives the
supervisor even when it is SIGKILLed. The kernel sends that signal when the *thread* that
forked the child ends, so every child is forked by one launcher thread that lives as long as
the supervisor: a component restarted from a short-lived thread (a fault, a revival) is not
killed when that thread ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..children import log_tail

_SETPRIV = shutil.which("setpriv")


class StartError(Exception):
    """A component did not start; the message names it, says why and ends with its log."""


@dataclass
class Component:
    """How to run one process of the control plane and tell that it is ready."""

    name: str
    command: Sequence[str]
    ready: Callable[[], bool]
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = 90.0
    cwd: Path | None = None


class Supervisor:
    """Starts components in order; ``stop_all`` ends them in reverse order."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._launcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="launcher")
        self.components: dict[str, Component] = {}
        self.processes: dict[str, subprocess.Popen] = {}

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(self, component: Component) -> subprocess.Popen:
        """Launch ``component`` and wait until it is ready (StartError with its log if not)."""
        self.components[component.name] = component
        command = list(component.command)
        if _SETPRIV:
            command = [_SETPRIV, "--pdeathsig", "KILL", "--", *command]
        env = {**os.environ, **component.env}
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_path(component.name)

        def launch() -> subprocess.Popen:
            with log_path.open("ab") as log:
                stamp = time.strftime("%H:%M:%S")
                log.write(f"\n--- {stamp} starting {component.name}\n".encode())
                return subprocess.Popen(
                    command,
                    env=env,
                    cwd=component.cwd,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )

        process = self._launcher.submit(launch).result()
        self.processes[component.name] = process
        deadline = time.monotonic() + component.timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StartError(
                    f"{component.name} exited with code {process.returncode} while starting; "
                    f"its log ({log_path}) ends:\n{log_tail(log_path, 15)}"
                )
            try:
                if component.ready():
                    return process
            except Exception:  # not answering yet: keep waiting until the deadline
                pass
            time.sleep(0.2)
        self.stop(component.name)
        raise StartError(
            f"{component.name} did not become ready within {component.timeout:.0f} s; "
            f"its log ({log_path}) ends:\n{log_tail(log_path, 15)}"
        )

    def restart(self, name: str) -> subprocess.Popen:
        self.stop(name)
        return self.start(self.components[name])

    def alive(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    def stop(self, name: str, grace: float = 5.0) -> None:
        """SIGTERM the component's process group, SIGKILL after ``grace`` seconds."""
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait(5)

    def pause(self, name: str) -> None:
        """Stop a component's process where it is (SIGSTOP), as a hung server would be."""
        process = self.processes.get(name)
        if process is not None and process.poll() is None:
            _signal_group(process, signal.SIGSTOP)

    def resume(self, name: str) -> None:
        process = self.processes.get(name)
        if process is not None and process.poll() is None:
            _signal_group(process, signal.SIGCONT)

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.resume(name)
            self.stop(name)

    def exited(self) -> list[tuple[str, int]]:
        """Components whose process ended on its own: ``(name, exit code)``."""
        return [(n, p.returncode) for n, p in self.processes.items() if p.poll() is not None]


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
