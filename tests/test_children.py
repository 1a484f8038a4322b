"""The child-process helpers the sandbox and the hub start with."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from aiinfn_hub.children import launch, log_tail, wait_ready


def test_a_child_that_exits_is_not_waited_for_and_its_log_is_kept(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    code = "import os, sys; print('pgid', os.getpgid(0) == os.getpid()); sys.exit(3)"
    proc = launch([sys.executable, "-c", code], log, dict(os.environ), cwd=tmp_path)
    calls = []
    # never ready: wait_ready ends when the child exits, long before its 600 s deadline
    assert wait_ready(proc, lambda: calls.append(1) or False, 600, 0.01) is False
    assert proc.wait() == 3
    assert log_tail(log, 5) == "pgid True"  # its own process group, output in the log


def test_ready_as_soon_as_the_probe_holds(tmp_path: Path) -> None:
    proc = launch([sys.executable, "-c", "import time; time.sleep(600)"], tmp_path / "l", {})
    try:
        probes = iter([False, False, True])
        assert wait_ready(proc, lambda: next(probes), 600, 0.01) is True
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_log_tail_of_a_missing_log_is_empty(tmp_path: Path) -> None:
    (tmp_path / "three").write_text("a\nb\nc\n")
    assert log_tail(tmp_path / "three", 2) == "b\nc"
    assert log_tail(tmp_path / "missing", 5) == ""
