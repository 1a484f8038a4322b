"""Requirement detection: each rule, with the reason it gives."""

import pytest

from aiinfn_hub.placement import Placer


@pytest.fixture
def placer():
    return Placer()


def detect(placer, data):
    return placer.detect(placer.parse(data))


def test_gpu_count_means_gpu(placer):
    found = detect(placer, {"gpus": 2, "gpu_model": "a100"})
    assert found.requires_gpu
    assert found.gpu_reason == "requires a GPU: asks for 2 A100 GPUs"


def test_no_gpu(placer):
    found = detect(placer, {"cpu": "500m"})
    assert not found.requires_gpu
    assert found.gpu_reason == "no GPU: asks for CPUs only"


def test_pvc_is_not_offloadable(placer):
    found = detect(placer, {"volumes": ["pvc"]})
    assert not found.offloadable
    assert found.offload_reason == (
        "not offloadable: needs the home volume (PVC), which remote sites cannot mount"
    )


def test_named_pvc_is_named(placer):
    found = detect(placer, {"volumes": [{"type": "pvc", "name": "datasets"}]})
    assert "needs the datasets volume (PVC)" in found.offload_reason


@pytest.mark.parametrize("volume", ["configmap", "secret", "emptydir"])
def test_interlink_volumes_are_offloadable(placer, volume):
    found = detect(placer, {"volumes": [volume]})
    assert found.offloadable
    assert found.offload_reason.startswith("offloadable: needs only")


def test_inbound_network_is_not_offloadable(placer):
    found = detect(placer, {"needs_inbound_network": True})
    assert not found.offloadable
    assert "inbound network" in found.offload_reason


def test_local_only_opt_out(placer):
    found = detect(placer, {"gpus": 1, "local_only": True})
    assert not found.offloadable
    assert found.offload_reason == "not offloadable: you asked to keep it local"


def test_every_blocker_is_listed(placer):
    found = detect(placer, {"local_only": True, "volumes": ["pvc"], "needs_inbound_network": True})
    assert found.offload_reason.count(";") == 2


def test_no_remote_site_configured():
    local_only = Placer(
        [s for s in Placer().sites.values() if not s.is_offload],
        {
            "cpu": ["local"],
            "cpu-offloadable": ["local"],
            "gpu": ["local"],
            "gpu-offloadable": ["local"],
        },
    )
    found = local_only.detect(local_only.parse({}))
    assert found.offload_reason == "not offloadable: no remote site is configured"
