"""The kube/ integration tests' shared fixture: a KubeClient on the test's kubesim."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from helmrelease_controller.kube.client import KubeClient
from kubesim import KubeSim


@pytest.fixture
async def client(kubesim: KubeSim) -> AsyncIterator[KubeClient]:
    c = await KubeClient.from_kubeconfig(str(kubesim.kubeconfig_path))
    yield c
    await c.close()
