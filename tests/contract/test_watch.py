"""List and watch: resourceVersion semantics, timeouts, bookmarks, selectors, 410, pages."""

from __future__ import annotations

import asyncio

import pytest
from kubernetes_asyncio import watch
from kubernetes_asyncio.client import ApiException

from .cluster import Cluster, status_of

pytestmark = pytest.mark.contract


def cm_path(cluster: Cluster) -> str:
    return f"/api/v1/namespaces/{cluster.namespace}/configmaps"


def summary(events: list[dict]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"].get("name", "")) for e in events]


async def test_watch_from_a_list_sees_what_came_after(cluster: Cluster) -> None:
    await cluster.configmap("before", a="1")
    listed = await cluster.core.list_namespaced_config_map(cluster.namespace)
    since = listed.metadata.resource_version
    assert [i.metadata.name for i in listed.items if i.metadata.name == "before"]

    await cluster.configmap("after")
    await cluster.core.patch_namespaced_config_map(
        "before", cluster.namespace, {"data": {"a": "2"}}
    )
    await cluster.core.delete_namespaced_config_map("after", cluster.namespace)

    status, events = await cluster.watch_events(
        cm_path(cluster),
        {"resourceVersion": since, "timeoutSeconds": 30},
        until=lambda ev: len(ev) >= 3,
    )
    assert status == 200
    assert summary(events) == [("ADDED", "after"), ("MODIFIED", "before"), ("DELETED", "after")]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and versions[0] > int(since)
    assert events[1]["object"]["data"] == {"a": "2"}
    assert events[0]["object"]["kind"] == "ConfigMap"
    assert events[0]["object"]["apiVersion"] == "v1"


async def test_watch_without_a_version_starts_with_the_current_state(cluster: Cluster) -> None:
    await cluster.configmap("one")
    await cluster.configmap("two")

    def both(events: list[dict]) -> bool:
        return {"one", "two"} <= {name for _kind, name in summary(events)}

    # (every namespace also holds the ConfigMap kube-root-ca.crt: see test_namespaces)
    status, events = await cluster.watch_events(
        cm_path(cluster), {"timeoutSeconds": 30}, until=both
    )
    assert status == 200
    assert {kind for kind, _name in summary(events)} == {"ADDED"}
    assert both(events)


async def test_timeout_seconds_ends_the_stream(cluster: Cluster) -> None:
    status, events = await cluster.watch_events(
        cm_path(cluster), {"resourceVersion": await _now(cluster), "timeoutSeconds": 1}
    )
    assert status == 200 and events == []


async def test_bookmarks_when_allowed(cluster: Cluster) -> None:
    """A real server sends a bookmark two seconds before the watch times out."""
    since = await _now(cluster)
    status, events = await cluster.watch_events(
        cm_path(cluster),
        {"resourceVersion": since, "timeoutSeconds": 4, "allowWatchBookmarks": "true"},
    )
    assert status == 200
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks, events
    obj = bookmarks[0]["object"]
    assert obj["kind"] == "ConfigMap" and obj["apiVersion"] == "v1"
    assert int(obj["metadata"]["resourceVersion"]) >= int(since)
    # without asking, no bookmarks
    _, plain = await cluster.watch_events(
        cm_path(cluster), {"resourceVersion": since, "timeoutSeconds": 4}
    )
    assert all(e["type"] != "BOOKMARK" for e in plain)


async def test_label_selected_watch_sees_objects_enter_and_leave(cluster: Cluster) -> None:
    await cluster.configmap("mover", {"app": "other"})
    since = await _now(cluster)

    async def relabel() -> None:
        for app in ("picked", "other", "picked"):
            await cluster.core.patch_namespaced_config_map(
                "mover", cluster.namespace, {"metadata": {"labels": {"app": app}}}
            )
        await cluster.configmap("ignored", {"app": "other"})
        await cluster.core.delete_namespaced_config_map("mover", cluster.namespace)

    task = asyncio.create_task(relabel())
    status, events = await cluster.watch_events(
        cm_path(cluster),
        {"resourceVersion": since, "timeoutSeconds": 30, "labelSelector": "app=picked"},
        until=lambda ev: len(ev) >= 4,
    )
    await task
    assert status == 200
    assert summary(events) == [
        ("ADDED", "mover"),
        ("DELETED", "mover"),
        ("ADDED", "mover"),
        ("DELETED", "mover"),
    ]


async def test_field_selected_watch(cluster: Cluster) -> None:
    since = await _now(cluster)
    await cluster.configmap("wanted")
    await cluster.configmap("unwanted")
    await cluster.core.patch_namespaced_config_map(
        "wanted", cluster.namespace, {"data": {"x": "1"}}
    )
    status, events = await cluster.watch_events(
        cm_path(cluster),
        {"resourceVersion": since, "timeoutSeconds": 30, "fieldSelector": "metadata.name=wanted"},
        until=lambda ev: len(ev) >= 2,
    )
    assert status == 200
    assert summary(events) == [("ADDED", "wanted"), ("MODIFIED", "wanted")]


async def test_namespaced_watch_sees_only_its_namespace(cluster: Cluster) -> None:
    since = await _now(cluster)
    await cluster.core.create_namespaced_config_map(
        "default", {"metadata": {"generateName": "elsewhere-"}}
    )
    await cluster.configmap("here")
    _, events = await cluster.watch_events(
        cm_path(cluster),
        {"resourceVersion": since, "timeoutSeconds": 30},
        until=lambda ev: len(ev) >= 1,
    )
    assert summary(events) == [("ADDED", "here")]
    ours = {"default", cluster.namespace}

    def both(events: list[dict]) -> bool:
        return ours <= {e["object"]["metadata"]["namespace"] for e in events}

    _, everywhere = await cluster.watch_events(
        "/api/v1/configmaps", {"resourceVersion": since, "timeoutSeconds": 30}, until=both
    )
    assert both(everywhere)  # (a real cluster may add others' objects)
    for item in (await cluster.core.list_namespaced_config_map("default")).items:
        if item.metadata.name.startswith("elsewhere-"):
            await cluster.core.delete_namespaced_config_map(item.metadata.name, "default")


async def test_too_old_resource_version_is_410_gone(cluster: Cluster) -> None:
    await cluster.configmap("history")
    await cluster.expire_history()
    status, events = await cluster.watch_events(
        cm_path(cluster),
        {"resourceVersion": cluster.old_resource_version, "timeoutSeconds": 30},
        until=lambda ev: any(e["type"] == "ERROR" for e in ev),
    )
    assert status == 200  # the error arrives as an event of the stream
    errors = [e["object"] for e in events if e["type"] == "ERROR"]
    assert errors, f"no ERROR event in {events}"
    error = errors[0]
    assert error["kind"] == "Status" and error["code"] == 410
    assert error["reason"] in ("Expired", "Gone")
    assert "too old resource version" in error["message"]

    stream = watch.Watch().stream(
        cluster.core.list_namespaced_config_map,
        cluster.namespace,
        resource_version=cluster.old_resource_version,
        timeout_seconds=30,
    )
    with pytest.raises(ApiException) as caught:
        async for _event in stream:
            pass
    assert caught.value.status == 410


async def test_typed_watch_stream(cluster: Cluster) -> None:
    since = await _now(cluster)
    await cluster.configmap("typed", a="1")
    seen = []
    async with watch.Watch() as stream:
        async for event in stream.stream(
            cluster.core.list_namespaced_config_map,
            cluster.namespace,
            resource_version=since,
            timeout_seconds=30,
        ):
            seen.append((event["type"], event["object"].metadata.name, event["object"].data))
            break
    assert seen == [("ADDED", "typed", {"a": "1"})]


async def test_pagination(cluster: Cluster) -> None:
    for i in range(5):
        await cluster.configmap(f"page-{i}", {"paged": "yes"})
    first = await cluster.core.list_namespaced_config_map(cluster.namespace, limit=2)
    names = [i.metadata.name for i in first.items]
    assert len(names) == 2 and first.metadata._continue
    total = len((await cluster.core.list_namespaced_config_map(cluster.namespace)).items)
    assert first.metadata.remaining_item_count == total - 2
    # objects created after the first page are not in the later ones: one consistent snapshot
    await cluster.configmap("page-late", {"paged": "yes"})
    token = first.metadata._continue
    while token:
        page = await cluster.core.list_namespaced_config_map(
            cluster.namespace, limit=2, _continue=token
        )
        assert page.metadata.resource_version == first.metadata.resource_version
        names += [i.metadata.name for i in page.items]
        token = page.metadata._continue
    assert len(names) == len(set(names)) == total
    assert "page-late" not in names
    assert {f"page-{i}" for i in range(5)} <= set(names)

    selected = await cluster.core.list_namespaced_config_map(
        cluster.namespace, limit=2, label_selector="paged=yes"
    )
    assert len(selected.items) == 2 and selected.metadata._continue
    # with a selector the server cannot know how many remain
    assert selected.metadata.remaining_item_count is None


async def test_bad_continue_token(cluster: Cluster) -> None:
    with pytest.raises(ApiException) as caught:
        await cluster.core.list_namespaced_config_map(
            cluster.namespace, limit=2, _continue="not-a-token"
        )
    assert caught.value.status == 400
    assert status_of(caught.value)["reason"] == "BadRequest"


async def _now(cluster: Cluster) -> str:
    listed = await cluster.core.list_namespaced_config_map(cluster.namespace)
    return listed.metadata.resource_version
