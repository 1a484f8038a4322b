"""Long-running child processes (the sandbox, JupyterHub): started in a session of their own
with their output in a log file, waited on until they answer, their log's end on failure."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def launch(
    command: Sequence[str], log_path: Path, env: dict[str, str], cwd: Path | None = None
) -> subprocess.Popen:
    """Start ``command`` in a new session (its own process group), output appended to
    ``log_path``, no standard input."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(command), cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip


def wait_ready(
    proc: subprocess.Popen, ready: Callable[[], bool], timeout: float, interval: float
) -> bool:
    """Whether ``ready()`` held before ``timeout`` seconds passed; False at once if the child
    exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if ready():
            return True
        time.sleep(interval)
    return False


def log_tail(log_path: Path, lines: int) -> str:
    """The last ``lines`` lines of a log ("" if it cannot be read)."""
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
