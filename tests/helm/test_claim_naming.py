"""One source of truth for users' home claim names: the spawner's configuration.

The values' ``hub.extraConfig`` snippet hands the spawner's ``pvc_name_template`` and
``slug_scheme`` (wherever the chart or ``hub.config`` sets them) to the jobs service; the
sandbox hub runs the same snippet; the service refuses a setting of its own that differs.
"""

from __future__ import annotations

import copy
import json
import runpy

import pytest
from traitlets.config import Config

from aiinfn_hub.hubconfig import SANDBOX_KEYS, SandboxHub, extra_config, hub_config, write_config
from aiinfn_hub.jobs.app import JobsService
from aiinfn_hub.jobs.claims import SPAWNER_ENV, HomeClaim
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


def run_extra_config(c: Config, values: dict) -> dict:
    """Run the values' extraConfig as the chart does; the jobs service's environment."""
    for snippet in extra_config(values):
        exec(snippet, {"c": c})
    (service,) = [s for s in c.JupyterHub.services if s["name"] == SERVICE]
    return service["environment"]


def test_the_chart_hands_kubespawners_defaults_to_the_service():
    environment = run_extra_config(chart_config(VALUES), VALUES)
    assert environment[TEMPLATE] == "claim-{user_server}"
    assert environment[SCHEME] == "safe"
    assert environment["PYTHONUNBUFFERED"] == "1"  # the values' own environment stays


def test_the_chart_hands_the_storage_template_and_the_spawners_scheme_to_the_service():
    values = copy.deepcopy(VALUES)
    values["singleuser"]["storage"] = {"dynamic": {"pvcNameTemplate": "home-{username}"}}
    values["hub"]["config"]["AIInfnSpawner"]["slug_scheme"] = "escape"
    environment = run_extra_config(chart_config(values), values)
    assert (environment[TEMPLATE], environment[SCHEME]) == ("home-{username}", "escape")
    # hub.config's KubeSpawner section wins over singleuser.storage, as the chart applies it
    values["hub"]["config"]["KubeSpawner"]["pvc_name_template"] = "data-{username}"
    environment = run_extra_config(chart_config(values), values)
    assert environment[TEMPLATE] == "data-{username}"
    # and a subclass's own section over KubeSpawner's, as traitlets resolves it
    values["hub"]["config"]["AIInfnSpawner"]["pvc_name_template"] = "mine-{username}"
    assert run_extra_config(chart_config(values), values)[TEMPLATE] == "mine-{username}"


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
    with pytest.raises(ValueError, match="no managed service named 'aiinfn-jobs'"):
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
