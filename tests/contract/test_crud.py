"""Create, get, replace and delete: status codes, server-set fields, metav1.Status errors."""

from __future__ import annotations

import pytest
from kubernetes_asyncio.client import ApiException

from .cluster import Cluster, status_of

pytestmark = pytest.mark.contract


async def test_create_answers_201_with_server_fields(cluster: Cluster) -> None:
    body = {"metadata": {"name": "settings"}, "data": {"a": "1"}}
    obj, code, _headers = await cluster.core.create_namespaced_config_map_with_http_info(
        cluster.namespace, body
    )
    assert code == 201
    meta = obj.metadata
    assert meta.name == "settings" and meta.namespace == cluster.namespace
    assert meta.uid and meta.resource_version and meta.creation_timestamp
    fetched = await cluster.core.read_namespaced_config_map("settings", cluster.namespace)
    assert fetched.metadata.uid == meta.uid
    assert fetched.metadata.resource_version == meta.resource_version
    assert fetched.data == {"a": "1"}


async def test_generate_name(cluster: Cluster) -> None:
    names = set()
    for _ in range(3):
        obj = await cluster.core.create_namespaced_config_map(
            cluster.namespace, {"metadata": {"generateName": "gen-"}}
        )
        assert obj.metadata.name.startswith("gen-") and len(obj.metadata.name) == len("gen-") + 5
        assert obj.metadata.generate_name == "gen-"
        names.add(obj.metadata.name)
    assert len(names) == 3


async def test_already_exists(cluster: Cluster) -> None:
    await cluster.configmap("twice")
    with pytest.raises(ApiException) as caught:
        await cluster.configmap("twice")
    status = status_of(caught.value)
    assert caught.value.status == 409
    assert status["kind"] == "Status" and status["status"] == "Failure"
    assert status["reason"] == "AlreadyExists" and status["code"] == 409
    assert status["message"] == 'configmaps "twice" already exists'
    assert status["details"] == {"name": "twice", "kind": "configmaps"}


async def test_not_found(cluster: Cluster) -> None:
    with pytest.raises(ApiException) as caught:
        await cluster.core.read_namespaced_config_map("nope", cluster.namespace)
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"], status["code"]) == (404, "NotFound", 404)
    assert status["message"] == 'configmaps "nope" not found'
    assert status["details"] == {"name": "nope", "kind": "configmaps"}
    with pytest.raises(ApiException) as caught:
        await cluster.batch.read_namespaced_job("nope", cluster.namespace)
    assert status_of(caught.value)["details"] == {"name": "nope", "group": "batch", "kind": "jobs"}


async def test_create_in_a_missing_namespace(cluster: Cluster) -> None:
    with pytest.raises(ApiException) as caught:
        await cluster.core.create_namespaced_config_map(
            "no-such-namespace-here", {"metadata": {"name": "x"}}
        )
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (404, "NotFound")
    assert status["details"]["kind"] == "namespaces"
    assert status["details"]["name"] == "no-such-namespace-here"


async def test_namespace_in_body_must_match_the_url(cluster: Cluster) -> None:
    body = {"metadata": {"name": "x", "namespace": "another"}}
    with pytest.raises(ApiException) as caught:
        await cluster.core.create_namespaced_config_map(cluster.namespace, body)
    assert caught.value.status == 400
    assert status_of(caught.value)["reason"] == "BadRequest"


async def test_replace_with_optimistic_concurrency(cluster: Cluster) -> None:
    created = await cluster.configmap("cas", a="1")
    stale = created.metadata.resource_version
    current = await cluster.core.read_namespaced_config_map("cas", cluster.namespace)
    current.data = {"a": "2"}
    replaced, code, _ = await cluster.core.replace_namespaced_config_map_with_http_info(
        "cas", cluster.namespace, current
    )
    assert code == 200 and replaced.data == {"a": "2"}
    assert replaced.metadata.resource_version != stale
    assert replaced.metadata.uid == created.metadata.uid
    assert replaced.metadata.creation_timestamp == created.metadata.creation_timestamp

    current.data = {"a": "3"}
    current.metadata.resource_version = stale
    with pytest.raises(ApiException) as caught:
        await cluster.core.replace_namespaced_config_map("cas", cluster.namespace, current)
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (409, "Conflict")
    assert status["message"] == (
        'Operation cannot be fulfilled on configmaps "cas": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    latest = await cluster.core.read_namespaced_config_map("cas", cluster.namespace)
    assert latest.data == {"a": "2"}

    # without a resourceVersion a ConfigMap update is unconditional
    body = {"metadata": {"name": "cas"}, "data": {"a": "4"}}
    unconditional = await cluster.core.replace_namespaced_config_map("cas", cluster.namespace, body)
    assert unconditional.data == {"a": "4"}


async def test_replace_of_a_missing_object_is_404(cluster: Cluster) -> None:
    with pytest.raises(ApiException) as caught:
        await cluster.core.replace_namespaced_config_map(
            "ghost", cluster.namespace, {"metadata": {"name": "ghost"}, "data": {}}
        )
    assert caught.value.status == 404


async def test_invalid_names_the_field(cluster: Cluster) -> None:
    with pytest.raises(ApiException) as caught:
        await cluster.core.create_namespaced_pod(
            cluster.namespace, {"metadata": {"name": "empty"}, "spec": {"containers": []}}
        )
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"], status["code"]) == (422, "Invalid", 422)
    assert status["details"]["name"] == "empty" and status["details"]["kind"] == "Pod"
    causes = {c["field"]: c["reason"] for c in status["details"]["causes"]}
    assert causes.get("spec.containers") == "FieldValueRequired"
    assert status["message"].startswith('Pod "empty" is invalid: ')
    assert "spec.containers: Required value" in status["message"]

    with pytest.raises(ApiException) as caught:
        await cluster.configmap("Not_A_Name")
    status = status_of(caught.value)
    assert caught.value.status == 422
    assert [c["field"] for c in status["details"]["causes"]] == ["metadata.name"]
    assert status["details"]["causes"][0]["reason"] == "FieldValueInvalid"

    job = cluster.job("always", "true")
    job["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    with pytest.raises(ApiException) as caught:
        await cluster.batch.create_namespaced_job(cluster.namespace, job)
    status = status_of(caught.value)
    assert caught.value.status == 422
    assert status["details"]["group"] == "batch" and status["details"]["kind"] == "Job"
    fields = {c["field"]: c["reason"] for c in status["details"]["causes"]}
    assert fields.get("spec.template.spec.restartPolicy") == "FieldValueNotSupported"

    job = cluster.job("unordered", "true", completions=2, completionMode="Shuffled")
    with pytest.raises(ApiException) as caught:
        await cluster.batch.create_namespaced_job(cluster.namespace, job)
    status = status_of(caught.value)
    assert caught.value.status == 422
    fields = {c["field"]: c["reason"] for c in status["details"]["causes"]}
    assert fields.get("spec.completionMode") == "FieldValueNotSupported"


async def test_a_field_of_the_wrong_json_type_is_a_bad_request(cluster: Cluster) -> None:
    """A built-in object is decoded into typed structs first: a field of the wrong JSON type
    is a 400 BadRequest naming the field, for create, replace and patch alike."""
    pods = f"/api/v1/namespaces/{cluster.namespace}/pods"
    configmaps = f"/api/v1/namespaces/{cluster.namespace}/configmaps"
    await cluster.configmap("typed", a="1")
    cases = [
        ("POST", pods, {"metadata": {"name": "p"}, "spec": {"containers": "c"}}, "spec.containers"),
        ("POST", configmaps, {"metadata": {"name": "l", "labels": {"n": 5}}}, "metadata.labels"),
        ("POST", configmaps, {"metadata": {"name": "d"}, "data": {"n": 5}}, "data"),
        ("PUT", f"{configmaps}/typed", {"metadata": "typed"}, "metadata"),
    ]
    for method, path, body, field in cases:
        response = await cluster.raw(method, path, body)
        assert response.status == 400, (body, response.body)
        status = response.body
        assert (status["kind"], status["reason"], status["code"]) == ("Status", "BadRequest", 400)
        assert field in status["message"], status["message"]
    patched = await cluster.raw(
        "PATCH",
        f"{configmaps}/typed",
        {"metadata": {"labels": "x"}},
        content_type="application/merge-patch+json",
    )
    assert patched.status == 400 and "metadata.labels" in patched.body["message"]
    kept = await cluster.core.read_namespaced_config_map("typed", cluster.namespace)
    assert kept.data == {"a": "1"} and not kept.metadata.labels


async def test_name_is_required(cluster: Cluster) -> None:
    with pytest.raises(ApiException) as caught:
        await cluster.core.create_namespaced_config_map(cluster.namespace, {"metadata": {}})
    status = status_of(caught.value)
    assert caught.value.status == 422 and status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "metadata.name"
    assert status["details"]["causes"][0]["reason"] == "FieldValueRequired"


async def test_delete_answers_a_status_then_404(cluster: Cluster) -> None:
    created = await cluster.configmap("doomed")
    result, code, _ = await cluster.core.delete_namespaced_config_map_with_http_info(
        "doomed", cluster.namespace
    )
    assert code == 200
    assert result.status == "Success"
    assert result.details.name == "doomed" and result.details.kind == "configmaps"
    assert result.details.uid == created.metadata.uid
    with pytest.raises(ApiException) as caught:
        await cluster.core.delete_namespaced_config_map("doomed", cluster.namespace)
    assert caught.value.status == 404


async def test_delete_preconditions(cluster: Cluster) -> None:
    await cluster.configmap("guarded")
    options = {"preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}}
    with pytest.raises(ApiException) as caught:
        await cluster.core.delete_namespaced_config_map("guarded", cluster.namespace, body=options)
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (409, "Conflict")
    assert "Precondition failed: UID in precondition" in status["message"]
    await cluster.core.read_namespaced_config_map("guarded", cluster.namespace)


async def test_bad_selectors_are_bad_requests(cluster: Cluster) -> None:
    with pytest.raises(ApiException) as caught:
        await cluster.core.list_namespaced_config_map(cluster.namespace, label_selector="a in b")
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (400, "BadRequest")
    assert "unable to parse requirement" in status["message"]
    with pytest.raises(ApiException) as caught:
        await cluster.core.list_namespaced_pod(cluster.namespace, field_selector="spec.image=x")
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (400, "BadRequest")
    assert status["message"] == "field label not supported: spec.image"
