"""Bad requests, unsatisfiable requests and bad configuration: typed errors that say what to do."""

import pytest
from traitlets.config import Config

from aiinfn_hub.placement import (
    ConfigError,
    JobRequest,
    NoSiteError,
    PlacementConfig,
    Placer,
    RequestError,
    SiteHealth,
)


@pytest.fixture
def placer():
    return Placer()


@pytest.mark.parametrize(
    ("data", "field", "hint"),
    [
        ({"gpus": -1}, "gpus", "0 or more"),
        ({"gpus": 1.5}, "gpus", "whole number"),
        ({"gpus": 1, "gpu_model": "H100"}, "gpu_model", "known models: A100"),
        ({"gpu_model": "A100"}, "gpu_model", "set gpus to 1 or more"),
        ({"memory": "12XB"}, "memory", "8Gi"),
        ({"walltime": "forever"}, "walltime", "2h"),
        ({"cpu": "lots"}, "cpu", "500m"),
        ({"volumes": ["nfs"]}, "volumes", "pvc, configmap"),
        ({"volumes": "pvc"}, "volumes", "a list"),
        ({"local_only": "yes"}, "local_only", "true or false"),
        ({"gpu": 1}, "gpu", "known fields"),
    ],
)
def test_bad_input_names_field_and_form(placer, data, field, hint):
    with pytest.raises(RequestError) as info:
        placer.parse(data)
    assert info.value.field == field
    assert hint in str(info.value)


def test_request_must_be_an_object():
    with pytest.raises(RequestError, match="expected an object"):
        JobRequest.parse(["gpus"])


def test_unknown_model_in_a_prebuilt_request(placer):
    with pytest.raises(RequestError, match="unknown GPU model 'V100'"):
        placer.plan(JobRequest(gpus=1, gpu_model="V100"))


@pytest.mark.parametrize(
    ("data", "requirement", "text"),
    [
        ({"gpus": 8, "gpu_model": "A100"}, "gpus", "offers at most 4 A100 GPUs"),
        ({"walltime": "30d"}, "walltime", "exceeds the site's limit"),
        ({"memory": "2Ti"}, "memory", "offers at most"),
        ({"cpu": 500}, "cpu", "offers at most"),
    ],
)
def test_nothing_satisfies(placer, data, requirement, text):
    with pytest.raises(NoSiteError) as info:
        placer.plan(placer.parse(data))
    assert info.value.requirement == requirement
    assert text in str(info.value)
    assert str(info.value).startswith("no site can satisfy")


def test_model_only_at_one_site_rules_out_the_other(placer):
    plan = placer.plan(placer.parse({"gpus": 1, "gpu_model": "T4"}))
    assert plan.site_names == ("local",)
    leonardo = next(e for e in plan.ruled_out if e.site.name == "leonardo")
    assert leonardo.reason == "cannot serve this job: has no T4 GPUs (it has A100)"


def test_walltime_over_remote_limit_falls_to_local(placer):
    plan = placer.plan(placer.parse({"gpus": 1, "walltime": "2d"}))
    assert plan.site_names == ("local",)
    assert "exceeds the site's limit of 1d" in plan.ruled_out[0].reason


def test_every_site_down(placer):
    down = {"local": SiteHealth(ready=False, message="node NotReady")}
    with pytest.raises(NoSiteError, match="no site can run this job now: Local resources: down"):
        placer.plan(placer.parse({"volumes": ["pvc"]}), down)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"cpu": ["local"]}, "lacks rows"),
        (
            {
                "cpu": ["mars"],
                "cpu-offloadable": ["local"],
                "gpu": ["local"],
                "gpu-offloadable": ["local"],
            },
            "unknown site 'mars'",
        ),
        (
            {
                "cpu": [],
                "cpu-offloadable": ["local"],
                "gpu": ["local"],
                "gpu-offloadable": ["local"],
            },
            "one or more",
        ),
        (
            {
                "cpu": ["tier1"],
                "cpu-offloadable": ["local"],
                "gpu": ["local"],
                "gpu-offloadable": ["local"],
            },
            "remote site",
        ),
        (
            {
                "cpu": ["local", "local"],
                "cpu-offloadable": ["local"],
                "gpu": ["local"],
                "gpu-offloadable": ["local"],
            },
            "twice",
        ),
        (
            {
                "tpu": ["local"],
                "cpu": ["local"],
                "cpu-offloadable": ["local"],
                "gpu": ["local"],
                "gpu-offloadable": ["local"],
            },
            "unknown placement table rows",
        ),
    ],
)
def test_table_configuration_errors(table, message):
    with pytest.raises(ConfigError, match=message):
        Placer(table=table)


def test_traitlets_configuration():
    config = Config()
    config.PlacementConfig.site_overrides = {
        "leonardo": {"max_walltime": "12h", "timeouts": {"admission": 60}}
    }
    config.PlacementConfig.extra_sites = [
        {
            "name": "recas",
            "display_name": "ReCaS Bari",
            "kind": "offload",
            "cpu": 32,
            "memory": "128Gi",
            "wiring": {
                "local_queue": "recas",
                "node_selector": {"kubernetes.io/hostname": "interlink-recas.ba.infn.it"},
            },
        }
    ]
    config.PlacementConfig.table = {
        "cpu": ["local"],
        "cpu-offloadable": ["recas", "tier1", "local"],
        "gpu": ["local"],
        "gpu-offloadable": ["leonardo", "local"],
    }
    placer = PlacementConfig(config=config).placer()
    assert placer.sites["leonardo"].capabilities.max_walltime == 12 * 3600
    assert placer.sites["leonardo"].timeouts.admission == 60
    assert placer.sites["recas"].capabilities.volume_types == {"configmap", "secret", "emptydir"}
    # a remote site is reached through an interLink virtual node: it tolerates interLink's taint
    assert placer.sites["recas"].wiring.tolerations == (
        {"key": "virtual-node.interlink/no-schedule", "operator": "Exists", "effect": "NoSchedule"},
    )
    assert placer.plan(placer.parse({})).site_names == ("recas", "tier1", "local")
    plan = placer.plan(placer.parse({"gpus": 1, "walltime": "20h"}))
    assert plan.site_names == ("local",), "the overridden 12h limit rules Leonardo out"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"site_overrides": {"mars": {"cpu": 1}}}, "unknown site 'mars'"),
        ({"site_overrides": {"local": {"memory": "lots"}}}, "site 'local': memory"),
        ({"site_overrides": {"local": {"colour": "red"}}}, "unknown keys"),
        ({"extra_sites": [{"name": "x", "kind": "local"}]}, "missing"),
        (
            {
                "extra_sites": [
                    {
                        "name": "local",
                        "kind": "local",
                        "cpu": 1,
                        "memory": "1Gi",
                        "wiring": {"local_queue": "q"},
                    }
                ]
            },
            "two sites",
        ),
        (
            {
                "extra_sites": [
                    {"name": "x", "kind": "cloud", "cpu": 1, "memory": "1Gi", "wiring": {}}
                ]
            },
            "kind must be",
        ),
        ({"sites": [{"kind": "local"}]}, "needs a 'name'"),
        (
            {
                "extra_sites": [
                    {
                        "name": "recas",
                        "kind": "offload",
                        "cpu": 1,
                        "memory": "1Gi",
                        "wiring": {"local_queue": "recas", "nodes": ["vk-recas"]},
                    }
                ]
            },
            "site 'recas': a remote site needs wiring.node_selector naming its interLink virtual "
            "node",
        ),
        ({"site_overrides": {"local": {"volume_types": ["nfs"]}}}, "unknown volume types"),
    ],
)
def test_site_configuration_errors(settings, message):
    config = Config()
    for key, value in settings.items():
        setattr(config.PlacementConfig, key, value)
    with pytest.raises(ConfigError, match=message):
        PlacementConfig(config=config).placer()
