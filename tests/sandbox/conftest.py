"""A kubernetes_asyncio client on the session sandbox, emptied for each test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from kubernetes_asyncio import client

from aiinfn_hub.sandbox import SandboxProcess
from aiinfn_hub.sandbox.testing import kube_client


@pytest.fixture
async def kube(sandbox: SandboxProcess) -> AsyncIterator[client.ApiClient]:
    api = await kube_client(sandbox.kubeconfig)
    async with api:
        yield api
