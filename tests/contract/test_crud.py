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

    # a Job's pods must end: Always, and an empty policy (which defaults to Always), are
    # answered as a required value; any other unknown policy is unsupported twice over (by the
    # pod template's validation, then by the Job's)
    field = "spec.template.spec.restartPolicy"
    required = ("FieldValueRequired", 'Required value: valid values: "OnFailure", "Never"')
    for policy, causes in (
        ("Always", [required]),
        ("", [required]),
        (
            "Sometimes",
            [
                (
                    "FieldValueNotSupported",
                    'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", '
                    '"Never"',
                ),
                (
                    "FieldValueNotSupported",
                    'Unsupported value: "Sometimes": supported values: "OnFailure", "Never"',
                ),
            ],
        ),
    ):
        job = cluster.job("always", "true")
        job["spec"]["template"]["spec"]["restartPolicy"] = policy
        with pytest.raises(ApiException) as caught:
            await cluster.batch.create_namespaced_job(cluster.namespace, job)
        status = status_of(caught.value)
        assert caught.value.status == 422
        assert status["details"]["group"] == "batch" and status["details"]["kind"] == "Job"
        found = [(c["reason"], c["message"]) for c in status["details"]["causes"]]
        assert found == causes, policy
        assert {c["field"] for c in status["details"]["causes"]} == {field}

    job = cluster.job("unordered", "true", completions=2, completionMode="Shuffled")
    with pytest.raises(ApiException) as caught:
        await cluster.batch.create_namespaced_job(cluster.namespace, job)
    status = status_of(caught.value)
    assert caught.value.status == 422
    fields = {c["field"]: c["reason"] for c in status["details"]["causes"]}
    assert fields.get("spec.completionMode") == "FieldValueNotSupported"


async def test_a_field_of_the_wrong_json_type_is_refused_naming_it(cluster: Cluster) -> None:
    """A built-in object is decoded into typed structs first: a field of the wrong JSON type
    in a created or replaced object is a 400 BadRequest naming the field; a patch whose result
    does not decode is a 422 Invalid on the field "patch", quoting what did not decode."""
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
        kind = "Pod" if path == pods else "ConfigMap"
        assert status["message"].startswith(
            f'{kind} in version "v1" cannot be handled as a {kind}: json: cannot unmarshal '
        )
    # go's decoder names a number as such, and the field by its path without keys or indices
    number = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": 5}]}}
    message = (await cluster.raw("POST", pods, number)).body["message"]
    assert "cannot unmarshal number into Go struct field " in message
    assert message.endswith(".spec.containers.name of type string"), message

    patches = [
        ("application/merge-patch+json", {"metadata": {"labels": "x"}}),
        ("application/json-patch+json", [{"op": "add", "path": "/metadata/labels", "value": "x"}]),
    ]
    for content_type, patch in patches:
        response = await cluster.raw(
            "PATCH", f"{configmaps}/typed", patch, content_type=content_type
        )
        status = response.body
        assert (response.status, status["reason"]) == (422, "Invalid"), (content_type, status)
        assert status["message"].startswith(' "" is invalid: patch: Invalid value: "{')
        assert status["message"].endswith(".metadata.labels of type map[string]string")
        assert "json: cannot unmarshal string into Go struct field " in status["message"]
        (cause,) = status["details"]["causes"]
        assert (cause["field"], cause["reason"]) == ("patch", "FieldValueInvalid")
        assert set(status["details"]) == {"causes"}  # no kind, no name
    # a strategic merge patch is converted from a map: the patch is quoted in Go's notation
    strategic = await cluster.raw(
        "PATCH",
        f"{configmaps}/typed",
        {"metadata": {"labels": "x"}},
        content_type="application/strategic-merge-patch+json",
    )
    assert (strategic.status, strategic.body["reason"]) == (422, "Invalid")
    assert strategic.body["message"] == (
        ' "" is invalid: patch: Invalid value: "map[metadata:map[labels:x]]": '
        "cannot restore map from string"
    )
    kept = await cluster.core.read_namespaced_config_map("typed", cluster.namespace)
    assert kept.data == {"a": "1"} and not kept.metadata.labels


async def test_a_body_of_another_type_is_a_bad_request(cluster: Cluster) -> None:
    """A built-in type's body may leave out apiVersion and kind (the URL's are taken), but one
    that names another version or kind is refused, in the words of the real decoder."""
    path = f"/api/v1/namespaces/{cluster.namespace}/configmaps"
    for name, body in (
        ("bare", {}),
        ("versioned", {"apiVersion": "v1"}),
        ("kinded", {"kind": "ConfigMap"}),
    ):
        response = await cluster.raw("POST", path, {**body, "metadata": {"name": name}})
        assert response.status == 201 and response.body["kind"] == "ConfigMap", response.body
    scheme = 'in scheme "pkg/runtime/scheme.go:111"'
    cases = [
        (
            {"apiVersion": "v1", "kind": "Secret"},
            'Secret in version "v1" cannot be handled as a ConfigMap: converting (v1.Secret) '
            "to (core.ConfigMap): unknown conversion",
        ),
        (
            {"apiVersion": "v2", "kind": "ConfigMap"},
            'ConfigMap in version "v2" cannot be handled as a ConfigMap: no kind "ConfigMap" '
            f'is registered for version "v2" {scheme}',
        ),
        (
            {"kind": "Job"},
            'Job in version "v1" cannot be handled as a ConfigMap: no kind "Job" is registered '
            f'for version "v1" {scheme}',
        ),
        (
            {"apiVersion": "batch/v1", "kind": "Job"},
            'Job in version "v1" cannot be handled as a ConfigMap: converting (v1.Job) to '
            "(core.ConfigMap): unknown conversion",
        ),
        (
            {"apiVersion": 5},
            "the object provided is unrecognized (must be of type ConfigMap): couldn't get "
            "version/kind; json parse error: json: cannot unmarshal number into Go struct "
            'field .apiVersion of type string ({"apiVersion": 5, "metadata":  ...)',
        ),
    ]
    for body, message in cases:
        response = await cluster.raw("POST", path, {**body, "metadata": {"name": "other"}})
        assert (response.status, response.body["reason"]) == (400, "BadRequest"), body
        assert response.body["message"] == message
    response = await cluster.raw("POST", path, [1])
    assert response.status == 400 and response.body["message"].endswith(" (5b315d)")
    names = {
        c.metadata.name
        for c in (await cluster.core.list_namespaced_config_map(cluster.namespace)).items
    }
    assert "other" not in names


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
    uid = (await cluster.core.read_namespaced_config_map("guarded", cluster.namespace)).metadata.uid
    assert status["message"] == (
        'Operation cannot be fulfilled on ConfigMap "guarded": the UID in the precondition '
        f"(00000000-0000-0000-0000-000000000000) does not match the UID in record ({uid}). "
        "The object might have been deleted and then recreated"
    )
    assert status["details"] == {"name": "guarded", "kind": "ConfigMap"}
    job = await cluster.batch.create_namespaced_job(
        cluster.namespace, cluster.job("guarded", "true", suspend=True)
    )
    options = {"preconditions": {"resourceVersion": "1"}}
    with pytest.raises(ApiException) as caught:
        await cluster.batch.delete_namespaced_job("guarded", cluster.namespace, body=options)
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (409, "Conflict")
    # (the Job controller may have written its status since: the version in record is later)
    assert status["message"].startswith(
        'Operation cannot be fulfilled on Job.batch "guarded": the ResourceVersion in the '
        "precondition (1) does not match the ResourceVersion in record ("
    )
    assert status["message"].endswith("). The object might have been modified")
    assert int(status["message"].split("record (")[1].split(")")[0]) >= int(
        job.metadata.resource_version
    )
    assert status["details"] == {"name": "guarded", "group": "batch", "kind": "Job"}


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
