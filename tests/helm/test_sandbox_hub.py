"""The hub the tests run on the sandbox is the hub helm-values/values.yaml configures.

``aiinfn_hub/hubconfig.py`` builds the sandbox hub's configuration from the values; these tests
check that it changes only the keys it declares (addresses, files, images), so what tests/hub
exercises (profiles, validation, placement, the jobs service) is the production configuration.
"""

from __future__ import annotations

import copy
import json

import pytest

from aiinfn_hub import hubconfig
from aiinfn_hub.hubconfig import (
    SANDBOX_KEYS,
    SCENARIO_KEYS,
    SINGLEUSER_TRAITS,
    SandboxHub,
    hub_config,
)

from .helpers import HELM_VALUES, REPO, load_yaml, need_schemas

VALUES = load_yaml(HELM_VALUES / "values.yaml")
CONFIG = VALUES["hub"]["config"]
#: What the spawner does, as opposed to where it runs: the sandbox must not change any of it.
BEHAVIOUR = {
    "cpu_profiles",
    "gpu_profile_cpu",
    "gpu_profile_memory",
    "gpu_counts",
    "automatic_profile",
    "automatic_cpu",
    "automatic_memory",
    "interactive_offload",
    "server_mode",
}


@pytest.fixture
def sections(tmp_path):
    hub = SandboxHub(kubeconfig=tmp_path / "kubeconfig", state_dir=tmp_path)
    return hub_config(hub, VALUES)


def test_the_sandbox_hub_reads_these_values():
    assert hubconfig.VALUES.resolve() == (HELM_VALUES / "values.yaml").resolve()
    assert hubconfig.load_values() == VALUES


def test_the_hub_tests_build_their_hub_from_hubconfig():
    source = (REPO / "tests" / "hub" / "conftest.py").read_text(encoding="utf-8")
    assert "SandboxHub(" in source and "HubProcess(" in source
    assert "hub_config(" not in source, "the tests must not assemble their own config"


@pytest.mark.parametrize("section", sorted(CONFIG))
def test_every_value_reaches_the_sandbox_hub_but_the_declared_keys(sections, section):
    for key, value in CONFIG[section].items():
        if key in SANDBOX_KEYS.get(section, set()):
            continue
        assert sections[section][key] == value, f"{section}.{key} differs on the sandbox"


def test_singleuser_values_reach_the_sandbox_hub_as_the_chart_maps_them(sections):
    singleuser = VALUES["singleuser"]
    assert "lifecycleHooks" in singleuser  # the examples in every home (tests/hub runs it)
    for key, trait in SINGLEUSER_TRAITS.items():
        assert trait not in SANDBOX_KEYS["KubeSpawner"]
        if key in singleuser:
            assert sections["KubeSpawner"][trait] == singleuser[key], key


def test_the_chart_passes_these_singleuser_keys_to_these_traits():
    schema = load_yaml(need_schemas() / "z2jh" / "values.schema.yaml")
    keys = schema["properties"]["singleuser"]["properties"]
    for key, trait in SINGLEUSER_TRAITS.items():
        assert f"[KubeSpawner.{trait}]" in keys[key]["description"], key


def test_hub_config_wins_over_singleuser_as_in_the_chart(tmp_path):
    mine = {"postStart": {"exec": {"command": ["true"]}}}
    values = copy.deepcopy(VALUES)
    values["hub"]["config"]["KubeSpawner"]["lifecycle_hooks"] = mine
    hub = SandboxHub(kubeconfig=tmp_path / "kubeconfig", state_dir=tmp_path)
    assert hub_config(hub, values)["KubeSpawner"]["lifecycle_hooks"] == mine
    assert mine != VALUES["singleuser"]["lifecycleHooks"]


def test_the_sandbox_changes_where_the_spawner_runs_not_what_it_does():
    spawner = CONFIG["AIInfnSpawner"]
    assert set(spawner) >= BEHAVIOUR, sorted(BEHAVIOUR - set(spawner))
    assert not BEHAVIOUR & SANDBOX_KEYS["AIInfnSpawner"]
    assert SANDBOX_KEYS["AIInfnSpawner"] == {"jobs_service_url", "session_start_timeouts"}
    # scenario knobs (set by a test that needs them) are spawner traits named in the values
    assert SCENARIO_KEYS["AIInfnSpawner"] <= set(spawner)


def test_sandbox_start_timeouts_leave_room_to_fall_back(sections):
    spawner = sections["AIInfnSpawner"]
    start = sections["KubeSpawner"]["start_timeout"]
    assert set(spawner["session_start_timeouts"]) == set(
        CONFIG["AIInfnSpawner"]["session_start_timeouts"]
    )
    # the first site of a plan gets at most a third of the spawn, the fallback the rest
    assert max(spawner["session_start_timeouts"].values()) <= start / 3


def test_scenario_keys_only(tmp_path):
    hub = SandboxHub(tmp_path / "kubeconfig", tmp_path, spawner={"gpu_counts": [8]})
    with pytest.raises(ValueError, match="gpu_counts"):
        hub_config(hub, VALUES)


def test_every_spawner_key_is_a_documented_trait():
    from kubespawner import KubeSpawner

    from aiinfn_hub.spawner import AIInfnSpawner

    for section, cls in (("AIInfnSpawner", AIInfnSpawner), ("KubeSpawner", KubeSpawner)):
        traits = cls.class_traits(config=True)
        for key in CONFIG[section]:
            assert key in traits, f"{section}.{key} is not a configurable trait"
            assert (traits[key].help or "").strip(), f"{section}.{key} has no help text"


def test_the_jobs_service_runs_as_the_values_say(sections, tmp_path):
    (service,) = [s for s in sections["JupyterHub"]["services"] if s["name"] == "aiinfn-jobs"]
    declared = VALUES["hub"]["services"]["aiinfn-jobs"]
    (container,) = [c for c in VALUES["hub"]["extraContainers"] if c["name"] == "aiinfn-jobs"]
    command = service["command"]
    # the container's command, run by the hub here (no pod runs it on the sandbox), with
    # loopback addresses, the config file in the state directory and the sandbox's kubeconfig
    options = command[3::2]
    assert command[1:3] == container["command"][1:3] == ["-m", "aiinfn_hub.jobs"]
    assert options == [*container["command"][3::2], "--kubeconfig"]
    assert command[command.index("--config") + 1] == str(tmp_path / "aiinfn-jobs_config.json")
    for key in ("oauth_no_confirm", "display"):
        assert service[key] == declared[key]
    # what the container's environment gives it on a cluster, the hub gives it here
    assert not [k for k in service["environment"] if k.startswith("JUPYTERHUB_")]
    assert service["environment"]["PYTHONUNBUFFERED"] == "1"
    config = json.loads((tmp_path / "aiinfn-jobs_config.json").read_text())
    (files,) = VALUES["hub"]["extraFiles"].values()
    expected = json.loads(json.dumps(files["data"]))
    expected["JobsManager"]["namespace"] = "default"  # the sandbox's namespace
    expected["KubeSpawner"]["image"] = hubconfig.SANDBOX_IMAGE  # the sandbox's only image
    assert config == expected
    roles = {r["name"]: r for r in sections["JupyterHub"]["load_roles"]}
    for name, role in VALUES["hub"]["loadRoles"].items():
        assert roles[name]["scopes"] == role["scopes"]


def test_missing_schemas_fail_loudly_unless_opted_out(monkeypatch):
    from . import helpers

    monkeypatch.setattr(helpers, "SCHEMAS", None)
    monkeypatch.delenv(helpers.OPT_OUT_ENV, raising=False)
    with pytest.raises(pytest.fail.Exception, match="AIINFN_SHARED_SCHEMAS"):
        helpers.need_schemas()
    monkeypatch.setenv(helpers.OPT_OUT_ENV, "1")
    with pytest.raises(pytest.skip.Exception, match="not in any of"):
        helpers.need_schemas()


def test_schemas_are_found_from_the_environment(monkeypatch, tmp_path):
    from . import helpers

    (tmp_path / "z2jh").mkdir()
    (tmp_path / "z2jh" / "values.schema.yaml").write_text("{}")
    (tmp_path / "kueue").mkdir()
    monkeypatch.setenv(helpers.SCHEMAS_ENV, str(tmp_path))
    assert helpers.find_schemas() == tmp_path
    # then ../shared/schemas beside the checkout, then /work/shared/schemas
    assert helpers.schema_candidates()[1] == helpers.REPO.parent / "shared" / "schemas"
