"""What ``GET /sites`` tells the launch dialog and the panel beyond health and totals: each GPU
model with what is free, MIG slices told apart from whole GPUs, and the most one job can get at
each site (the dialog's limits)."""

from __future__ import annotations

import pytest

from aiinfn_hub.jobs import openapi
from aiinfn_hub.jobs.logreader import read_log
from aiinfn_hub.placement import GpuPool

GI = 2**30


async def test_sites_list_each_gpu_model_and_what_one_job_can_get(api):
    status, body = await api.call("GET", "sites")
    assert status == 200
    for site in body["sites"]:
        openapi.validate("Site", site)
    sites = {s["name"]: s["capacity"] for s in body["sites"]}
    assert sites["leonardo"]["models"] == [
        {"model": "A100", "free": 32, "total": 32, "per_job": 4, "mig": False}
    ]
    assert sites["leonardo"]["per_job"] == {"cpu": 32, "memory": 480 * GI, "walltime": 86400}
    assert sites["tier1"]["models"] == []
    assert sites["tier1"]["per_job"]["cpu"] == 64
    local = {m["model"]: m for m in sites["local"]["models"]}
    assert local["A100-MIG-1g.10gb"] == {
        "model": "A100-MIG-1g.10gb",
        "free": 7,
        "total": 7,
        "per_job": 7,
        "mig": True,
    }
    assert [m for m, v in local.items() if not v["mig"]] == ["T4", "RTX5000", "A100"]
    # gpus counts every device; the models split it
    assert sum(m["total"] for m in local.values()) == sites["local"]["gpus"]["total"]
    assert sites["local"]["per_job"] == {"cpu": 16, "memory": 64 * GI, "walltime": 7 * 86400}


@pytest.mark.parametrize(
    ("product", "mig"),
    [
        ("NVIDIA-A100-SXM4-80GB-MIG-1g.10gb", True),
        ("NVIDIA-A100-SXM4-40GB-MIG-3g.20gb", True),
        ("NVIDIA-H100-80GB-HBM3-MIG-1g.10gb", True),
        ("NVIDIA-A100-SXM4-40GB", False),
        ("Tesla-T4", False),
        ("Quadro-RTX-5000", False),
        ("NVIDIA-AMIGA-1", False),
    ],
)
def test_mig_slices_are_told_by_the_product_gpu_feature_discovery_writes(product, mig):
    assert GpuPool("any-name", 1, 1, product).is_mig is mig


def test_a_pool_without_a_product_is_told_by_its_model():
    assert GpuPool("A100-MIG-2g.20gb", 3).is_mig is True
    assert GpuPool("A100", 4).is_mig is False


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ("queued", "the job has not started yet"),
        ("admitted", "the job has not started yet"),
        ("running", "the job is running; waiting for its output"),
        ("succeeded", "no log was kept"),
    ],
)
async def test_a_job_without_a_started_pod_says_where_it_stands(state, message):
    chunk = await read_log(None, {}, {"state": state}, [])  # type: ignore[arg-type]
    assert chunk["message"] == message
    assert chunk["data"] == "" and chunk["pod"] is None
