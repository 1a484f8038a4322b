"""Pure manifest builders: what each attempt's Job and the job's record carry."""

import json
import re

import pytest

from aiinfn_hub.jobs import labels as L
from aiinfn_hub.jobs.manifests import (
    PodSettings,
    build_attempt,
    build_record,
    container_command,
    staged_key,
)
from aiinfn_hub.jobs.model import parse_spec
from aiinfn_hub.placement import Placer

PLACER = Placer()
#: alice@example.org's home claim as the jobs service found it (KubeSpawner's safe slug)
HOME = "claim-alice-example-org---7a64adf2"


def spec(**data):
    return parse_spec({"command": ["python", "-c", "print(1)"], **data}, PLACER, 10_000)


def attempt(job_spec, site="leonardo", number=1, history=()):
    return build_attempt(
        "abc123def0",
        "alice@example.org",
        spec=job_spec,
        site=PLACER.sites[site],
        number=number,
        plan={"sites": [{"name": site}]},
        history=list(history),
        namespace="jhub",
        record_uid="uid-1",
        settings=PodSettings(),
        home_claim=HOME,
    )


def test_attempt_is_queued_suspended_at_the_sites_localqueue():
    job = attempt(spec(resources={"gpus": 2, "gpu_model": "A100"}))
    meta = job["metadata"]
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert meta["name"] == "aiinfn-abc123def0-1"
    assert meta["namespace"] == "jhub"
    assert meta["labels"][L.QUEUE_NAME] == "leonardo"
    assert meta["labels"][L.JOB_ID] == "abc123def0"
    assert meta["labels"][L.SITE] == "leonardo"
    assert meta["labels"][L.OWNER] == L.label_value("alice@example.org")
    assert meta["annotations"][L.OWNER_NAME] == "alice@example.org"
    assert json.loads(meta["annotations"][L.PLAN]) == {"sites": [{"name": "leonardo"}]}
    assert meta["ownerReferences"][0]["name"] == "aiinfn-abc123def0"
    assert job["spec"]["suspend"] is True
    assert job["spec"]["backoffLimit"] == 0


def test_site_wiring_reaches_the_pod():
    pod = attempt(spec(resources={"gpus": 2, "gpu_model": "A100"}))["spec"]["template"]
    assert pod["spec"]["nodeSelector"] == {
        "kubernetes.io/hostname": "vk-leonardo",
        "nvidia-gpu-type": "A100",
    }
    assert pod["spec"]["tolerations"] == [
        {"key": "virtual-node.interlink/no-schedule", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert pod["metadata"]["annotations"]["slurm-job.vk.io/flags"] == "--partition=boost_usr_prod"
    limits = pod["spec"]["containers"][0]["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == "2"


def test_local_gpu_model_is_selected_by_product_label():
    pod = attempt(spec(resources={"gpus": 1, "gpu_model": "T4"}), site="local")
    selector = pod["spec"]["template"]["spec"]["nodeSelector"]
    assert selector == {"aiinfn.infn.it/site": "local", "nvidia.com/gpu.product": "Tesla-T4"}
    assert "tolerations" not in pod["spec"]["template"]["spec"]


def test_pod_security_restricted():
    pod = attempt(spec())["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod["containers"]:
        ctx = container["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["capabilities"] == {"drop": ["ALL"]}
        assert ctx["runAsNonRoot"] is True
        assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
    allowed = {"configMap", "emptyDir", "secret", "persistentVolumeClaim", "name"}
    assert all(set(v) <= allowed for v in pod["volumes"])


def test_array_job_is_indexed_and_walltime_is_a_deadline():
    job = attempt(spec(completions=10, parallelism=3, walltime="2h"))
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] == 10
    assert job["spec"]["parallelism"] == 3
    assert job["spec"]["activeDeadlineSeconds"] == 7200


def test_home_volume_for_local_jobs():
    pod = attempt(spec(volumes=["pvc"]), site="local")["spec"]["template"]["spec"]
    claim = next(v for v in pod["volumes"] if "persistentVolumeClaim" in v)
    assert claim["persistentVolumeClaim"]["claimName"] == HOME
    assert {"name": claim["name"], "mountPath": "/home/jovyan"} in pod["containers"][0][
        "volumeMounts"
    ]


def test_user_env_and_job_env():
    env = attempt(spec(env={"EPOCHS": "3"}))["spec"]["template"]["spec"]["containers"][0]["env"]
    names = {e["name"]: e["value"] for e in env}
    assert names["EPOCHS"] == "3"
    assert names["AIINFN_JOB_ID"] == "abc123def0"
    assert names["AIINFN_SITE"] == "leonardo"


@pytest.mark.parametrize(
    ("kind", "path", "expected"),
    [
        ("shell", "run.sh", ["bash", "/aiinfn/job/run.sh", "a"]),
        ("python", "x/train.py", ["python", "/aiinfn/job/train.py", "a"]),
    ],
)
def test_script_commands(kind, path, expected):
    job_spec = parse_spec(
        {"script": {"path": path, "kind": kind, "content": "x", "args": ["a"]}}, PLACER, 100
    )
    assert container_command(job_spec) == expected


def test_notebook_runs_through_the_runner_with_parameters():
    job_spec = parse_spec(
        {"script": {"path": "nb.ipynb", "content": "{}", "parameters": {"n": 3}}}, PLACER, 100
    )
    command = container_command(job_spec)
    assert command[:4] == ["python", "-m", "aiinfn_hub.runner", "/aiinfn/job/nb.ipynb"]
    assert command[-2:] == ["--parameters", '{"n": 3}']


def test_record_holds_spec_plan_and_file():
    job_spec = parse_spec(
        {"script": {"path": "nb.ipynb", "content": "{}"}, "client_request_id": "r-1"}, PLACER, 100
    )
    record = build_record(
        "abc123def0",
        "bob",
        spec=job_spec,
        plan={"sites": []},
        namespace="jhub",
        now="2026-01-01T00:00:00Z",
    )
    assert record["metadata"]["name"] == "aiinfn-abc123def0"
    assert record["metadata"]["labels"][L.REQUEST_ID] == "r-1"
    assert record["metadata"]["annotations"][L.ATTEMPTS] == "[]"
    assert json.loads(record["data"]["spec.json"])["script"]["path"] == "nb.ipynb"
    assert record["data"]["nb.ipynb"] == "{}"
    assert L.HOME_CLAIM not in record["metadata"]["annotations"]  # it mounts no home


def test_record_keeps_the_home_claim_found_at_submission():
    record = build_record(
        "abc123def0", "alice@example.org", spec=spec(volumes=["pvc"]), plan={}, namespace="jhub",
        now="now", home_claim=HOME,
    )  # fmt: skip
    assert record["metadata"]["annotations"][L.HOME_CLAIM] == HOME


def test_label_values_are_always_valid():
    for text in ["alice", "alice@example.org", "a" * 80, "@@@", "Ünïcode user"]:
        value = L.label_value(text)
        assert len(value) <= 63
        assert value[0].isalnum() and value[-1].isalnum()


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("nb.ipynb", "nb.ipynb"),
        ("my notes/Run 1 (final).py", "staged-file"),
        ("été.sh", "staged-file"),
        ("spec.json", "staged-file"),
        ("plan.json", "staged-file"),
    ],
)
def test_staged_file_is_stored_under_a_valid_key_and_seen_under_its_name(path, key):
    job_spec = parse_spec(
        {"script": {"path": path, "kind": "python", "content": "print(1)"}}, PLACER, 100
    )
    record = build_record(
        "abc123def0", "bob", spec=job_spec, plan={"sites": []}, namespace="jhub", now="now"
    )
    filename = path.rsplit("/", 1)[-1]
    assert staged_key(filename) == key
    assert record["data"][key] == "print(1)"
    assert json.loads(record["data"]["spec.json"])["script"]["path"] == path
    assert json.loads(record["data"]["plan.json"]) == {"sites": []}
    assert all(re.fullmatch(r"[-._a-zA-Z0-9]+", k) for k in record["data"])
    pod = attempt(job_spec, site="local")["spec"]["template"]["spec"]
    staged = next(v for v in pod["volumes"] if v["name"] == "staged")
    assert staged["configMap"]["items"] == [{"key": key, "path": filename}]
    assert pod["containers"][0]["command"][:2] == ["python", f"/aiinfn/job/{filename}"]


def test_scratch_configmap_and_secret_volumes_are_mounted_where_documented():
    job_spec = spec(
        volumes=["emptydir", "emptydir:cache", "configmap:settings", "secret:tokens", "emptydir"]
    )
    pod = attempt(job_spec, site="tier1")["spec"]["template"]["spec"]
    sources = {v["name"]: {k: x for k, x in v.items() if k != "name"} for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert sources[mounts["/scratch"]["name"]] == {"emptyDir": {}}
    assert sources[mounts["/scratch/cache"]["name"]] == {"emptyDir": {}}
    assert sources[mounts["/mnt/configmap/settings"]["name"]] == {"configMap": {"name": "settings"}}
    assert sources[mounts["/mnt/secret/tokens"]["name"]] == {"secret": {"secretName": "tokens"}}
    assert mounts["/mnt/configmap/settings"]["readOnly"] is True
    assert mounts["/mnt/secret/tokens"]["readOnly"] is True
    assert "readOnly" not in mounts["/scratch"] and "readOnly" not in mounts["/scratch/cache"]
    # the same volume asked for twice is mounted once; names and mount paths stay unique
    names = [v["name"] for v in pod["volumes"]]
    paths = [m["mountPath"] for m in pod["containers"][0]["volumeMounts"]]
    assert len(names) == len(set(names)) == 6  # staged, work and the four asked for
    assert len(paths) == len(set(paths)) == 6
    assert all(set(v) <= {"configMap", "emptyDir", "secret", "name"} for v in pod["volumes"])
    assert pod["containers"][0]["securityContext"]["allowPrivilegeEscalation"] is False


def test_the_home_claim_and_a_shared_claim_mount_at_their_own_paths():
    pod = attempt(spec(volumes=["pvc", "pvc:datasets"]), site="local")["spec"]["template"]["spec"]
    sources = {v["name"]: {k: x for k, x in v.items() if k != "name"} for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
    home_claim = HOME
    home = sources[mounts[PodSettings().home_mount_path]["name"]]
    assert home == {"persistentVolumeClaim": {"claimName": home_claim}}
    shared = sources[mounts["/mnt/pvc/datasets"]["name"]]
    assert shared == {"persistentVolumeClaim": {"claimName": "datasets"}}
    # the owner's home claim named explicitly is still the home
    pod = attempt(spec(volumes=[f"pvc:{home_claim}"]), site="local")["spec"]["template"]["spec"]
    paths = [m["mountPath"] for m in pod["containers"][0]["volumeMounts"]]
    assert PodSettings().home_mount_path in paths
