"""The shared caches: one list+watch per kind, watches that resume from their resourceVersion
when dropped, a relist on 410 Gone that reports what changed meanwhile, and no polling."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from kubernetes_asyncio import client

from aiinfn_hub.kube.cache import Reflector
from aiinfn_hub.kube.client import Kube, kube_client
from aiinfn_hub.sandbox.testing import wait_until

from .conftest import wait_for

SELECTOR = "test=reflector"


@pytest.fixture
async def kube(sandbox) -> AsyncIterator[Kube]:
    api = await kube_client(str(sandbox.kubeconfig))
    yield Kube(api, "default")
    await api.close()


def config_map(name: str) -> dict:
    return {"metadata": {"name": name, "labels": {"test": "reflector"}}, "data": {"k": name}}


def config_maps(kube: Kube, events: list[tuple[str, str]], keep_objects: bool = True) -> Reflector:
    """A reflector of the test's ConfigMaps that notes each event as (type, name)."""
    return Reflector(
        kube,
        "configmap",
        client.CoreV1Api(kube.api_client).list_namespaced_config_map,
        ("default",),
        SELECTOR,
        lambda _kind, kind, obj: events.append((kind, obj["metadata"]["name"])),
        keep_objects=keep_objects,
    )


async def test_a_dropped_watch_resumes_and_a_410_relists_with_what_changed(kube, sandbox):
    events: list[tuple[str, str]] = []
    reflector = config_maps(kube, events)
    reflector.start()
    try:
        await wait_until(reflector.synced.is_set, message="the first list")
        await kube.create("configmap", config_map("a"))
        await wait_until(lambda: ("ADDED", "a") in events, message="a seen")

        assert sandbox.faults.drop_watches()["closed"] >= 1
        await kube.create("configmap", config_map("b"))
        await wait_until(lambda: ("ADDED", "b") in events, message="b seen after the drop")
        assert reflector.relists == 1, "a dropped watch resumes from its resourceVersion"
        assert kube.requests["watch configmap"] >= 2

        await reflector.stop()
        await kube.create("configmap", config_map("c"))
        await kube.delete("configmap", "a")
        sandbox.compact()
        reflector.start()  # resumes from a resourceVersion that is now too old: 410 Gone
        await wait_until(lambda: reflector.relists == 2, message="the relist after 410")
        await wait_until(lambda: ("DELETED", "a") in events, message="a's deletion")
    finally:
        await reflector.stop()
    assert sorted(reflector.objects) == ["default/b", "default/c"]
    assert ("ADDED", "c") in events
    assert kube.requests["list configmap"] == 2


async def test_jobs_carry_on_through_dropped_watches_and_compaction(manager, sandbox):
    sandbox.faults.stall_admission("local")
    view, _ = await manager.submit("alice", {"command": ["true"], "local_only": True})
    await wait_for(manager, view["id"], ("queued",))
    sandbox.compact()
    sandbox.faults.drop_watches()
    sandbox.faults.stall_admission("local", on=False)
    done = await wait_for(manager, view["id"])
    assert done["state"] == "succeeded"
    assert any(r.relists == 2 for r in manager.reflectors.values()), "410 Gone relisted"
    assert all(r.relists <= 2 for r in manager.reflectors.values())


async def test_one_list_per_kind_and_no_polling(manager):
    views = [
        (await manager.submit("alice", {"command": ["true"], "local_only": True}))[0]
        for _ in range(3)
    ]
    for view in views:
        await wait_for(manager, view["id"])
    requests = dict(manager.kube.requests)
    lists = {k: v for k, v in requests.items() if k.startswith("list ")}
    assert lists == {
        "list configmap": 1,
        "list job": 1,
        "list pod": 1,
        "list workload": 1,
        "list node": 1,
    }
    assert not [k for k in requests if k.startswith("get ")], requests
    assert requests["create configmap"] == 3 and requests["create job"] == 3


async def test_a_list_comes_in_pages_and_the_watch_goes_on_from_it(kube, monkeypatch):
    """Many records: the first list asks for pages (limit and continue), as client-go's
    reflectors do, and the watch starts from the paged list's resourceVersion."""
    from aiinfn_hub.kube import cache

    monkeypatch.setattr(cache, "LIST_PAGE", 3)
    for i in range(10):
        await kube.create("configmap", config_map(f"page-{i:02d}"))
    seen: list[tuple[str, str]] = []
    reflector = config_maps(kube, seen)
    reflector.start()
    try:
        await wait_until(reflector.synced.is_set, message="the paged list")
        assert kube.requests["list configmap"] == 4  # 3 + 3 + 3 + 1
        assert sorted(reflector.objects) == [f"default/page-{i:02d}" for i in range(10)]
        await kube.create("configmap", config_map("after"))
        await wait_until(lambda: ("ADDED", "after") in seen, message="a change after the list")
    finally:
        await reflector.stop()
    assert len(seen) == 11 and reflector.relists == 1


async def test_a_reflector_that_keeps_only_versions_tells_the_same_changes(kube, sandbox):
    """The job records' reflector keeps no objects (the manager keeps them in its own form):
    it reports the same events, a relist's deletion by the object's name and namespace, and
    a relist reports no change for an object whose version it has seen."""
    events: list[tuple[str, str]] = []
    reflector = config_maps(kube, events, keep_objects=False)
    await kube.create("configmap", config_map("a.b-1"))
    reflector.start()
    try:
        await wait_until(lambda: ("ADDED", "a.b-1") in events, message="the first list")
        await reflector.stop()
        await kube.create("configmap", config_map("c"))
        await kube.delete("configmap", "a.b-1")
        sandbox.compact()
        reflector.start()  # 410 Gone: a relist
        await wait_until(lambda: ("DELETED", "a.b-1") in events, message="the deletion")
    finally:
        await reflector.stop()
    assert events == [("ADDED", "a.b-1"), ("ADDED", "c"), ("DELETED", "a.b-1")]
    assert reflector.objects == {} and sorted(reflector.versions) == ["default/c"]
