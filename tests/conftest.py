"""Sandbox fixtures: one sandbox in a child process for the session, reset for each test.

``sandbox_process`` starts ``python -m aiinfn_hub.sandbox up`` on a fixed free port with its
kubeconfig in a temporary directory, exports ``KUBECONFIG`` for the session, and always stops
the child (and its process group) at the end. ``sandbox`` empties it (objects, pods, faults)
before the test and offers ``.faults``, ``.url``, ``.kubeconfig``, ``.reset()``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aiinfn_hub.sandbox import SandboxProcess
from aiinfn_hub.sandbox.process import free_port
from aiinfn_hub.sandbox.testing import default_kubeconfig


@pytest.fixture(scope="session")
def sandbox_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    state = tmp_path_factory.mktemp("sandbox")
    process = SandboxProcess(port=free_port(), state_dir=state, kubeconfig=state / "kubeconfig")
    try:
        process.start()
        with default_kubeconfig(process.kubeconfig):
            yield process
    finally:
        process.stop()


@pytest.fixture
def sandbox(sandbox_process: SandboxProcess) -> Iterator[SandboxProcess]:
    sandbox_process.reset()
    yield sandbox_process
    sandbox_process.faults.clear()
