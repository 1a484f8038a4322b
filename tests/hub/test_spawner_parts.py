"""The spawner's pure parts: profiles from the catalogue, option checks, GPU counting, progress in
plain words, where automatic servers go, and request counting. No cluster, no hub."""

from __future__ import annotations

import asyncio

import pytest
from kubernetes_asyncio.client import V1Container, V1ObjectMeta, V1Pod, V1PodSpec, V1Volume

from aiinfn_hub.placement import default_catalogue
from aiinfn_hub.spawner import kuberequests
from aiinfn_hub.spawner.clusterview import GpuCount, count_gpus
from aiinfn_hub.spawner.profiles import (
    OptionsError,
    ProfileSettings,
    Resources,
    build_profiles,
    validate_options,
)
from aiinfn_hub.spawner.progress import describe_event, describe_pod
from aiinfn_hub.spawner.sessions import (
    SessionSpec,
    choose_pool,
    claim_volumes,
    place_pod,
    unreachable,
)

SITES = {s.name: s for s in default_catalogue()}
LOCAL, LEONARDO = SITES["local"], SITES["leonardo"]
POOLS = {p.model: p for p in LOCAL.capabilities.gpus}
SETTINGS = ProfileSettings(
    cpu_profiles={"cpu-small": ("CPU: small", "", Resources.parse(1, "4Gi", "test"))},
    gpu_resources=Resources.parse("4", "32Gi", "test"),
    gpu_counts=(1, 2, 4),
    gpu_tolerations=({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},),
    automatic_where="somewhere",
)


def counts(free: dict[str, int]):
    return lambda site, pool: GpuCount(pool.model, free.get(pool.model, 0), pool.total)


def profiles(settings: ProfileSettings = SETTINGS, free=None):
    return build_profiles(settings, [LOCAL], counts(free or {}))


# --------------------------------------------------------------------------- profiles


def test_profiles_are_cpu_then_one_per_local_gpu_model_then_automatic():
    built = profiles(free={"A100": 3})
    assert [p["slug"] for p in built] == [
        "cpu-small",
        "gpu-t4",
        "gpu-rtx5000",
        "gpu-a100",
        "gpu-a100-mig-1g-10gb",
        "automatic",
    ]
    assert [p["default"] for p in built] == [True] + [False] * 5
    a100 = built[3]
    assert a100["description"].startswith("3 of 4 A100 free now; up to 4 per server")
    assert a100["gpu"] == {"model": "A100", "site": "local", "free": 3, "total": 4}


def test_gpu_choices_fit_one_node_of_the_model():
    by_slug = {p["slug"]: p for p in profiles()}
    assert list(by_slug["gpu-t4"]["profile_options"]["gpus"]["choices"]) == ["1", "2"]
    assert list(by_slug["gpu-a100-mig-1g-10gb"]["profile_options"]["gpus"]["choices"]) == [
        "1",
        "2",
        "4",
    ]
    assert list(by_slug["automatic"]["profile_options"]["gpus"]["choices"]) == ["0", "1", "2", "4"]
    two = by_slug["gpu-t4"]["profile_options"]["gpus"]["choices"]["2"]["kubespawner_override"]
    assert two["extra_resource_limits"] == {"nvidia.com/gpu": "2"}
    assert two["extra_resource_guarantees"] == {"nvidia.com/gpu": "2"}


def test_gpu_profiles_require_their_model_and_tolerate_gpu_taints():
    t4 = next(p for p in profiles() if p["slug"] == "gpu-t4")["kubespawner_override"]
    assert t4["node_affinity_required"] == [
        {
            "matchExpressions": [
                {"key": "nvidia.com/gpu.product", "operator": "In", "values": ["Tesla-T4"]}
            ]
        }
    ]
    assert t4["node_selector"] == {"aiinfn.infn.it/site": "local"}
    assert t4["tolerations"] == [dict(SETTINGS.gpu_tolerations[0])]
    assert t4["mem_limit"] == 32 * 2**30 and t4["cpu_limit"] == 4.0


def test_unknown_counts_say_so_rather_than_guess():
    built = build_profiles(SETTINGS, [LOCAL], lambda site, pool: None)
    t4 = next(p for p in built if p["slug"] == "gpu-t4")
    assert t4["description"].startswith("GPU availability is being read")
    assert "free" not in t4["gpu"]


def test_default_profile_and_admin_profiles():
    extra = {
        "slug": "custom-image",
        "display_name": "Custom image",
        "profile_options": {
            "image": {
                "display_name": "Image",
                "choices": {"base": {"display_name": "base"}},
                "unlisted_choice": {
                    "enabled": True,
                    "validation_regex": r"^registry\.infn\.it/.+",
                    "validation_message": "images come from registry.infn.it",
                },
            }
        },
    }
    settings = ProfileSettings(**{**SETTINGS.__dict__, "default_profile": "gpu-t4"})
    settings = ProfileSettings(**{**settings.__dict__, "extra_profiles": (extra,)})
    built = profiles(settings)
    assert [p["slug"] for p in built if p["default"]] == ["gpu-t4"]
    assert built[-1]["slug"] == "custom-image"
    ok = {"profile": "custom-image", "image--unlisted-choice": "registry.infn.it/ai/lab:1"}
    assert validate_options(ok, built) == ok
    with pytest.raises(OptionsError, match=r"images come from registry\.infn\.it"):
        validate_options({"profile": "custom-image", "image--unlisted-choice": "evil/x"}, built)
    with pytest.raises(OptionsError, match="takes only its listed choices"):
        validate_options({"profile": "gpu-t4", "gpus--unlisted-choice": "3"}, built)


# --------------------------------------------------------------------------- option checks


@pytest.mark.parametrize(
    ("options", "normalised"),
    [
        (None, {}),
        ({}, {}),
        ({"profile": "gpu-t4", "gpus": 2}, {"profile": "gpu-t4", "gpus": "2"}),
        ({"profile": "automatic", "gpus": "0"}, {"profile": "automatic", "gpus": "0"}),
        ({"profile": ""}, {}),
    ],
)
def test_good_options_are_normalised(options, normalised):
    assert validate_options(options, profiles()) == normalised


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"profile": "gpu-h100"}, "unknown profile 'gpu-h100'; choose one of: cpu-small, gpu-t4"),
        ({"profile": "gpu-t4", "gpus": "3"}, "'3' is out of range for option 'gpus' (GPUs)"),
        ({"profile": "gpu-t4", "gpus": 1.5}, "option 'gpus' must be text or a whole number"),
        ({"gpus": "1"}, "unknown option 'gpus' for profile 'cpu-small' (its options: none)"),
        ({"profile": "gpu-t4", "profile-option-gpu-t4--gpus": "1"}, "unknown option"),
        ({"profile": 7}, "profile must be a profile's name (text), got 7"),
        ("gpu-t4", "user options must be a JSON object"),
    ],
)
def test_bad_options_name_what_is_wrong(options, message):
    with pytest.raises(OptionsError) as caught:
        validate_options(options, profiles())
    assert message in str(caught.value)


# --------------------------------------------------------------------------- GPU counts


def node(name, product, gpus, ready=True, site="local", taints=(), **spec):
    labels = {"nvidia.com/gpu.product": product}
    if site:
        labels["aiinfn.infn.it/site"] = site
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {**spec, "taints": list(taints)},
        "status": {
            "allocatable": {"nvidia.com/gpu": str(gpus)},
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def pod(node_name, gpus, phase="Running"):
    limits = {"nvidia.com/gpu": str(gpus)}
    return {
        "spec": {"nodeName": node_name, "containers": [{"resources": {"limits": limits}}]},
        "status": {"phase": phase},
    }


def test_free_gpus_are_those_of_the_sites_nodes_that_take_pods_minus_running_pods():
    interlink = {"key": "virtual-node.interlink/no-schedule", "value": "true",
                 "effect": "NoSchedule"}  # fmt: skip
    nodes = [
        node("dgx-01", "NVIDIA-A100-SXM4-40GB", 4),
        node("dgx-02.gpu.example", "NVIDIA-A100-SXM4-40GB", 4, ready=False),
        node("worker-a", "NVIDIA-A100-SXM4-40GB", 4, unschedulable=True),
        node("gpu-node.example", "Tesla-T4", 2),
        # not the local site's: another site's label, no label, a virtual node
        node("lab-a100", "NVIDIA-A100-SXM4-40GB", 4, site="teaching"),
        node("stray-a100", "NVIDIA-A100-SXM4-40GB", 4, site=None),
        node("vk-a100", "NVIDIA-A100-SXM4-40GB", 8, taints=[interlink]),
    ]
    pods = [
        pod("dgx-01", 3),
        pod("dgx-01", 1, phase="Succeeded"),
        {"spec": {"containers": []}, "status": {"phase": "Pending"}},
        pod("gpu-node.example", 2),
    ]
    assert count_gpus(LOCAL, POOLS["A100"], nodes, pods) == GpuCount("A100", 1, 12)
    assert count_gpus(LOCAL, POOLS["T4"], nodes, pods).describe() == "0 of 2 T4 free"
    assert count_gpus(LOCAL, POOLS["A100"], nodes[4:], pods) == GpuCount("A100", 0, 0)


def test_a_mig_slice_is_counted_by_the_label_gpu_feature_discovery_gives_it():
    """NVIDIA's GPU feature discovery labels a MIG slice <product>-MIG-<profile>."""
    mig = POOLS["A100-MIG-1g.10gb"]
    assert mig.product == "NVIDIA-A100-SXM4-80GB-MIG-1g.10gb"
    nodes = [node("hgx-07", "NVIDIA-A100-SXM4-80GB-MIG-1g.10gb", 7)]
    assert count_gpus(LOCAL, mig, nodes, [pod("hgx-07", 2)]) == GpuCount(mig.model, 5, 7)


# --------------------------------------------------------------------------- plain words


def test_scheduling_failures_in_plain_words():
    gpu = GpuCount("A100", 0, 4)
    event = {
        "reason": "FailedScheduling",
        "message": "0/8 nodes are available: 1 Insufficient nvidia.com/gpu, 7 node(s) didn't "
        "match Pod's node affinity/selector.",
    }
    assert describe_event(event, gpu) == "waiting for a GPU: 0 of 4 A100 free"
    assert describe_event(event) == "waiting for a GPU: none of the requested kind is free"
    cpu = {"reason": "FailedScheduling", "message": "0/8 nodes are available: 8 Insufficient cpu."}
    assert describe_event(cpu) == "waiting for room on a node: not enough free CPU now"
    taint = {"reason": "FailedScheduling", "message": "1 node(s) had untolerated taint {x: y}"}
    assert describe_event(taint) == "waiting for a node of the chosen kind to take new servers"


def test_kueue_and_other_events_in_plain_words():
    kueue = {"reason": "Pending", "message": "couldn't assign flavors: insufficient quota (kueue)"}
    assert describe_event(kueue) == "queued by Kueue: waiting for quota"
    scheduled = {"reason": "Scheduled", "message": "Successfully assigned default/p to node-1"}
    assert describe_event(scheduled) == "assigned to node node-1"
    assert describe_event({"reason": "Started", "message": "Started container notebook"}) == (
        "Jupyter is starting"
    )
    assert describe_event({"reason": "Custom", "message": "as it is"}) == "as it is"


def test_pod_states_in_plain_words():
    gated = {"spec": {"schedulingGates": [{"name": "kueue.x-k8s.io/admission"}]}}
    assert describe_pod(gated) == "queued by Kueue: waiting for quota"
    remote = {
        "metadata": {"annotations": {"JobID": "slurm-123"}},
        "status": {
            "containerStatuses": [{"state": {"waiting": {"reason": "Remote pod submitted"}}}]
        },
    }
    assert describe_pod(remote, "CINECA Leonardo") == (
        "waiting in CINECA Leonardo's batch queue (job slurm-123)"
    )
    assert describe_pod({"status": {"phase": "Running"}}) is None


# --------------------------------------------------------------------------- sessions


def test_a_server_is_offloadable_only_with_interactive_offload_and_without_claims():
    spec = SessionSpec(4, 16 * 2**30, 1, ("home",))
    placer_sites = ["leonardo", "local"]
    from aiinfn_hub.placement import Placer

    placer = Placer()
    assert placer.plan(spec.request(True, True)).site_names == tuple(placer_sites)
    assert placer.plan(spec.request(False, True)).site_names == ("local",)
    assert placer.plan(spec.request(True, False)).site_names == ("local",)


def test_the_gpu_model_with_enough_free_gpus_wins_then_preference_then_most_free():
    free = counts({"T4": 2, "RTX5000": 1, "A100": 4, "A100-MIG-1g.10gb": 7})
    assert choose_pool(LOCAL, 2, free, ["A100"]).model == "A100"
    # RTX5000 is preferred but has 1 free: a model with 2 free wins, the preferred one next
    assert choose_pool(LOCAL, 2, free, ["T4", "RTX5000"]).model == "T4"
    assert choose_pool(LOCAL, 2, counts({"A100": 1, "T4": 2}), ["A100"]).model == "T4"
    assert choose_pool(LOCAL, 1, free, []).model == "A100-MIG-1g.10gb"
    assert choose_pool(LOCAL, 5, free, []).model == "A100-MIG-1g.10gb"  # only 7-per-node fits
    assert choose_pool(LOCAL, 0, free, []) is None
    assert choose_pool(SITES["tier1"], 1, free, []) is None


def _pod(volumes):
    return V1Pod(
        metadata=V1ObjectMeta(name="jupyter-alice", labels={}, annotations={}),
        spec=V1PodSpec(
            containers=[V1Container(name="notebook")],
            node_selector={"aiinfn.infn.it/site": "local"},
            volumes=volumes,
        ),
    )


def test_a_remote_site_gets_its_wiring_and_scratch_instead_of_claims():
    volumes = [
        V1Volume(name="home", persistent_volume_claim={"claimName": "claim-alice"}),
        V1Volume(name="shm", empty_dir={}),
    ]
    assert claim_volumes(volumes) == ("home",)
    pod = _pod(volumes)
    gpu_taint = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    pool = LEONARDO.capabilities.gpus[0]
    notes = place_pod(pod, LEONARDO, pool, {"interlink.eu/pod-vpn": "true"}, True, [gpu_taint])
    assert pod.spec.node_selector == {"kubernetes.io/hostname": "vk-leonardo"}
    # interLink's toleration only: local GPU taints are no business of a remote site
    assert [t.key for t in pod.spec.tolerations] == ["virtual-node.interlink/no-schedule"]
    assert pod.metadata.annotations == {
        "slurm-job.vk.io/flags": "--partition=boost_usr_prod",
        "interlink.eu/pod-vpn": "true",
    }
    assert pod.metadata.labels == {"aiinfn.infn.it/site": "leonardo"}
    term = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
    expression = term.node_selector_terms[0].match_expressions[0]
    assert (expression.key, expression.values) == ("nvidia-gpu-type", ["A100"])
    assert pod.spec.volumes[0].persistent_volume_claim is None
    assert pod.spec.volumes[0].empty_dir is not None
    assert notes == [
        "your volume 'home' (claim claim-alice) cannot be mounted at CINECA Leonardo: it is an "
        "empty scratch folder there, deleted when the server stops"
    ]


def test_a_local_site_keeps_claims_and_gets_no_offload_annotations():
    volumes = [{"name": "home", "persistentVolumeClaim": {"claimName": "claim-bob"}}]
    pod = _pod(volumes)
    taint = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    assert place_pod(pod, LOCAL, POOLS["T4"], {"interlink.eu/pod-vpn": "true"}, True, [taint]) == []
    assert [t.key for t in pod.spec.tolerations] == ["nvidia.com/gpu"]
    assert pod.metadata.annotations == {}
    assert pod.spec.volumes == [
        {"name": "home", "persistentVolumeClaim": {"claimName": "claim-bob"}}
    ]
    assert pod.spec.node_selector == {"aiinfn.infn.it/site": "local"}


# --------------------------------------------------------------------------- request counting


class FakeRest:
    def __init__(self):
        self.calls = []

    async def request(self, method, url, query_params=None, **kwargs):
        self.calls.append((method, url))
        return "ok"


class FakeClient:
    def __init__(self):
        self.rest_client = FakeRest()


async def test_requests_are_counted_by_the_activity_that_made_them():
    api = kuberequests.instrument(kuberequests.instrument(FakeClient()))  # idempotent
    before = dict(kuberequests.COUNTS)

    async def watch_forever(started: asyncio.Event):
        await api.rest_client.request("GET", "/api/v1/pods", [("watch", True)])
        started.set()
        await asyncio.sleep(3600)

    started = asyncio.Event()
    with kuberequests.activity("test-form"):
        # a watch started from the form's context counts as a watch, not as the form's
        task = kuberequests.run_detached(
            "test-watch", lambda: asyncio.ensure_future(watch_forever(started))
        )
        await started.wait()
        await api.rest_client.request("GET", "/api/v1/nodes")
    task.cancel()
    await api.rest_client.request("POST", "/api/v1/pods")
    delta = {k: v - before.get(k, 0) for k, v in kuberequests.COUNTS.items()}
    assert delta[("test-form", "GET")] == 1
    assert delta[("test-watch", "WATCH")] == 1
    assert delta[("other", "POST")] >= 1
    assert kuberequests.total("test-form") == before.get(("test-form", "GET"), 0) + 1
    assert len(api.rest_client.calls) == 3


def test_a_remote_server_at_interlinks_unconnected_address_is_unreachable():
    """interLink's virtual kubelet reports 127.0.0.1 for a pod without its VPN or tunnel."""
    said = unreachable(LEONARDO, "http://127.0.0.1:8888")
    assert said is not None and said.startswith("CINECA Leonardo runs your server, but the hub")
    assert unreachable(LEONARDO, "http://10.244.7.12:8888") is None  # interLink's VPN address
    assert unreachable(LEONARDO, "http://jupyter-mario-2erossi.jhub.svc:8888") is None
    assert unreachable(LOCAL, "http://127.0.0.1:8888") is None  # not interLink's
