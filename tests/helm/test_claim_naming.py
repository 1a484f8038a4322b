"""One source of truth for users' home claim names: the spawner's configuration.

In the helm values the jobs service runs in a container of the hub pod and reads the
spawner's ``pvc_name_template`` and ``slug_scheme`` from the KubeSpawner/AIInfnSpawner
sections its config file carries (aliases of ``hub.config``'s); the values' ``hub.extraConfig``
snippet makes the hub refuse to start if the spawner's naming is set elsewhere. The sandbox
hub runs the service as a managed service and the same snippet hands it the naming in its
environment; the service refuses a setting of its own that differs.
"""

from __future__ import annotations

import copy
import json
import runpy

import pytest
from traitlets.config import Config

from aiinfn_hub.hubconfig import SANDBOX_KEYS, SandboxHub, extra_config, hub_config, write_config
from aiinfn_hub.jobs.app import JobsService
from aiinfn_hub.jobs.claims import HomeClaim
from aiinfn_hub.kube.claimnaming import SPAWNER_ENV
from aiinfn_hub.spawner.wiring import claim_naming, share_claim_naming

from .helpers import HELM_VALUES, load_yaml

VALUES = load_yaml(HELM_VALUES / "values.yaml")
SERVICE = "aiinfn-jobs"
TEMPLATE, SCHEME = SPAWNER_ENV["pvc_name_template"], SPAWNER_ENV["slug_scheme"]


def chart_config(values: dict) -> Config:
    """``c`` as the chart's jupyterhub_config.py leaves it before ``hub.extraConfig``: the
    spawner's storage settings, the managed services, then ``hub.config`` (the parts this
    concerns)."""
    c = Config()
    dynamic = ((values.get("singleuser") or {}).get("storage") or {}).get("dynamic") or {}
    if dynamic.get("pvcNameTemplate"):
        c.KubeSpawner.pvc_name_template = dynamic["pvcNameTemplate"]
    c.JupyterHub.services = [
        {"name": name, **copy.deepcopy(service)}
        for name, service in values["hub"]["services"].items()
    ]
    for section, body in values["hub"]["config"].items():
        c[section].update(copy.deepcopy(body))
    return c


SERVICE_CONFIG = "/usr/local/etc/aiinfn-hub/jobs_config.json"


def service_config_file(values: dict, tmp_path) -> str:
    """The jobs service's config file as the chart mounts it (hub.extraFiles, aliases of the
    hub.config sections already resolved by the YAML loader)."""
    path = tmp_path / "jobs_config.json"
    data = values["hub"]["extraFiles"]["aiinfn-jobs-config"]["data"]
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def run_extra_config(c: Config, values: dict, tmp_path) -> str:
    """Run the values' extraConfig as the chart does, with the service's config file where
    the snippet reads it; returns that file's path."""
    path = service_config_file(values, tmp_path)
    for snippet in extra_config(values):
        assert SERVICE_CONFIG in snippet
        exec(snippet.replace(SERVICE_CONFIG, path), {"c": c})
    return path


def service_naming(path: str) -> tuple[str, str]:
    """How the jobs service, started with that config file, names home claims."""
    app = JobsService()
    try:
        app.initialize(["--config", path])
        claim = HomeClaim("jhub", parent=app)
        return claim.pvc_name_template, claim.slug_scheme
    finally:
        JobsService.clear_instance()


def test_the_chart_runs_the_service_in_a_container_that_reads_kubespawners_defaults(tmp_path):
    (service,) = [s for s in chart_config(VALUES).JupyterHub.services if s["name"] == SERVICE]
    assert "command" not in service  # not a managed service: a container of the hub pod
    path = run_extra_config(chart_config(VALUES), VALUES, tmp_path)
    assert service_naming(path) == ("claim-{user_server}", "safe")


def test_the_service_reads_the_spawners_sections_and_the_hub_refuses_a_naming_set_elsewhere(
    tmp_path,
):
    values = copy.deepcopy(VALUES)
    values["hub"]["config"]["AIInfnSpawner"]["slug_scheme"] = "escape"
    values["hub"]["config"]["KubeSpawner"]["pvc_name_template"] = "data-{username}"
    values = load_yaml_text(values)  # the aliases of hub.config, as the chart's YAML has them
    path = run_extra_config(chart_config(values), values, tmp_path)
    assert service_naming(path) == ("data-{username}", "escape")
    # a subclass's own section over KubeSpawner's, as traitlets resolves it, on both sides
    values["hub"]["config"]["AIInfnSpawner"]["pvc_name_template"] = "mine-{username}"
    path = run_extra_config(chart_config(values), values, tmp_path)
    assert service_naming(path) == ("mine-{username}", "escape")
    # the chart's singleuser.storage key reaches the spawner only: the hub refuses to start
    values = copy.deepcopy(VALUES)
    values["singleuser"]["storage"] = {"dynamic": {"pvcNameTemplate": "home-{username}"}}
    with pytest.raises(ValueError) as refused:
        run_extra_config(chart_config(values), values, tmp_path)
    message = str(refused.value)
    assert "\n" not in message
    assert "the spawner names home claims with pvc_name_template 'home-{username}'" in message
    assert "says 'claim-{user_server}'" in message
    assert "set KubeSpawner.pvc_name_template in hub.config" in message


def load_yaml_text(values: dict) -> dict:
    """``values`` with the jobs service's config sections pointing at the hub.config sections
    again (a deepcopy breaks YAML aliases)."""
    data = values["hub"]["extraFiles"]["aiinfn-jobs-config"]["data"]
    for section in ("KubeSpawner", "AIInfnSpawner", "PlacementConfig"):
        if section in data:
            data[section] = values["hub"]["config"][section]
    return values


def test_the_spawner_class_is_found_by_name_or_entry_point():
    from kubespawner import KubeSpawner

    c = Config()
    c.JupyterHub.spawner_class = "aiinfn"  # the entry point the package declares
    c.AIInfnSpawner.slug_scheme = "escape"
    assert claim_naming(c)["slug_scheme"] == "escape"
    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"  # its subclass's section is ignored
    assert claim_naming(c)["slug_scheme"] == KubeSpawner.class_traits()["slug_scheme"].default()


def test_without_the_service_the_snippet_says_so():
    c = Config()
    c.JupyterHub.services = [{"name": "other"}]
    with pytest.raises(ValueError, match="no service named 'aiinfn-jobs'"):
        share_claim_naming(c)


def test_the_sandbox_hub_uses_the_charts_default_naming_and_the_same_snippet(tmp_path):
    assert "pvc_name_template" not in SANDBOX_KEYS["KubeSpawner"]
    hub = SandboxHub(kubeconfig=tmp_path / "kubeconfig", state_dir=tmp_path)
    sections = hub_config(hub, VALUES)
    assert "pvc_name_template" not in sections["KubeSpawner"]
    assert sections["KubeSpawner"]["volumes"][0]["persistentVolumeClaim"] == {
        "claimName": "{pvc_name}"  # what KubeSpawner remembers, as the chart mounts it
    }
    path = write_config(sections, tmp_path / "jupyterhub_config.py", extra_config(VALUES))
    c = Config()
    runpy.run_path(str(path), {"get_config": lambda: c})
    (service,) = [s for s in c.JupyterHub.services if s["name"] == SERVICE]
    assert service["environment"][TEMPLATE] == "claim-{user_server}"
    assert service["environment"][SCHEME] == "safe"


def test_the_service_takes_the_spawners_values_and_refuses_its_own_if_they_differ(
    monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv(TEMPLATE, "home-{username}")
    monkeypatch.setenv(SCHEME, "escape")
    config = tmp_path / "jobs_config.json"
    config.write_text(json.dumps({"JobsManager": {"namespace": "jhub"}}), encoding="utf-8")
    app = JobsService()
    try:
        app.initialize(["--config", str(config)])
        found = HomeClaim("jhub", parent=app)
        assert found.name_for("mario.rossi") == "home-mario-2erossi"
    finally:
        JobsService.clear_instance()
    config.write_text(json.dumps({"HomeClaim": {"pvc_name_template": "claim-{username}"}}))
    app = JobsService()
    try:
        with pytest.raises(SystemExit) as exited:
            app.initialize(["--config", str(config)])
        assert exited.value.code == 2
    finally:
        JobsService.clear_instance()
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "HomeClaim.pvc_name_template is 'claim-{username}'" in lines[0]
    assert "KubeSpawner.pvc_name_template 'home-{username}'" in lines[0]
