"""Sandbox fixtures: one sandbox in a child process for the session, reset for each test.

``sandbox_process`` starts ``python -m aiinfn_hub.sandbox up`` on a fixed free port with its
kubeconfig in a temporary directory, exports ``KUBECONFIG`` for the session, and always stops
the child (and its process group) at the end. ``sandbox`` empties it (objects, pods, faults)
before the test and offers ``.faults``, ``.url``, ``.kubeconfig``, ``.reset()``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from kubernetes_asyncio.config import kube_config

from aiinfn_hub.sandbox import SandboxProcess
from aiinfn_hub.sandbox.process import free_port


@pytest.fixture(scope="session")
def sandbox_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    state = tmp_path_factory.mktemp("sandbox")
    process = SandboxProcess(port=free_port(), state_dir=state, kubeconfig=state / "kubeconfig")
    previous = os.environ.get("KUBECONFIG")
    # kubernetes_asyncio reads KUBECONFIG once, when imported: clients that load the default
    # kubeconfig in this process (KubeSpawner does) need its copy set too
    previous_default = kube_config.KUBE_CONFIG_DEFAULT_LOCATION
    try:
        process.start()
        os.environ["KUBECONFIG"] = str(process.kubeconfig)
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(process.kubeconfig)
        yield process
    finally:
        process.stop()
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = previous_default
        if previous is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = previous


@pytest.fixture
def sandbox(sandbox_process: SandboxProcess) -> Iterator[SandboxProcess]:
    sandbox_process.reset()
    yield sandbox_process
    sandbox_process.faults.clear()
