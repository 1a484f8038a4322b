"""helm-values/values.yaml: valid for the z2jh chart, and wired the way aiinfn_hub needs."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from traitlets.config import Config

from aiinfn_hub.placement import PlacementConfig
from aiinfn_hub.placement.policy import ROWS

from .helpers import (
    HELM_VALUES,
    NAMESPACE,
    REPO,
    deep_merge,
    load_all,
    load_yaml,
    need_schemas,
)

SERVICE = "aiinfn-jobs"
PORT = 10101
CONFIG_PATH = "/usr/local/etc/aiinfn-hub/jobs_config.json"


@pytest.fixture(scope="module")
def overlay():
    return load_yaml(HELM_VALUES / "values.yaml")


@pytest.fixture(scope="module")
def chart():
    """The chart's values.schema.yaml and default values.yaml."""
    z2jh = need_schemas() / "z2jh"
    return load_yaml(z2jh / "values.schema.yaml"), load_yaml(z2jh / "values.yaml")


@pytest.fixture(scope="module")
def values(overlay):
    """What the hub sees: the overlay merged over the chart's defaults."""
    return deep_merge(load_yaml(need_schemas() / "z2jh" / "values.yaml"), overlay)


def _errors(schema, document):
    validator = jsonschema.Draft7Validator(schema)
    return sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))


# ------------------------------------------------------------------------------ schema validity


def test_merged_values_validate_against_the_chart_schema(chart, overlay):
    schema, defaults = chart
    assert schema.get("$schema", "").startswith("http://json-schema.org/draft-07/")
    errors = _errors(schema, deep_merge(defaults, overlay))
    assert not errors, "\n".join(f"{e.json_path}: {e.message}" for e in errors)


def test_overlay_alone_is_incomplete(chart, overlay):
    """The schema requires every top-level key, which is why the tests merge defaults first."""
    schema, _ = chart
    assert any(e.validator == "required" for e in _errors(schema, overlay))


@pytest.mark.parametrize(
    ("broken", "path"),
    [
        # hub.config sections must start with an upper-case letter; the hub exits otherwise
        ({"hub": {"config": {"placementConfig": {"table": {}}}}}, "$.hub.config"),
        ({"aiinfn": {"enabled": True}}, "$"),
        ({"hub": {"service": {"extraPort": []}}}, "$.hub.service"),
        ({"singleuser": {"automountServiceAccountToken": False}}, "$.singleuser"),
        ({"hub": {"services": [{"name": SERVICE}]}}, "$.hub.services"),
        # a hook other than postStart/preStop
        ({"singleuser": {"lifecycleHooks": {"postStarted": {}}}}, "$.singleuser.lifecycleHooks"),
    ],
    ids=[
        "lowercase-config-section",
        "unknown-top-level-key",
        "typo",
        "no-such-key",
        "list",
        "hook-name",
    ],
)
def test_a_broken_overlay_fails_validation(chart, overlay, broken, path):
    schema, defaults = chart
    errors = _errors(schema, deep_merge(deep_merge(defaults, overlay), broken))
    assert errors, f"the schema accepted {broken}"
    assert path in {e.json_path for e in errors}


# ------------------------------------------------------------------------------ hub and spawner


def test_spawner_class_is_the_aiinfn_spawner(values):
    assert values["hub"]["config"]["JupyterHub"]["spawner_class"] == (
        "aiinfn_hub.spawner.AIInfnSpawner"
    )


def test_spawner_class_resolves(values):
    module_name, _, class_name = values["hub"]["config"]["JupyterHub"]["spawner_class"].rpartition(
        "."
    )
    from kubespawner import KubeSpawner

    cls = getattr(importlib.import_module(module_name), class_name)
    assert issubclass(cls, KubeSpawner)


def _project_version() -> str:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'(?m)^version\s*=\s*"([^"]+)"', text)
    assert match, "pyproject.toml has no version"
    return match.group(1)


def _dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order; comments dropped, continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        op, _, args = pending.strip().partition(" ")
        instructions.append((op.upper(), args.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continuation line"
    return instructions


def test_hub_image_carries_this_release_of_the_package(values):
    image = values["hub"]["image"]
    assert image["name"] == "ghcr.io/infn-ai/aiinfn-hub-hub"
    assert image["tag"] == _project_version()
    dockerfile = (HELM_VALUES / "hub-image" / "Dockerfile").read_text(encoding="utf-8")
    instructions = _dockerfile_instructions(dockerfile)
    assert [args for op, args in instructions if op == "FROM"] == [
        "quay.io/jupyterhub/k8s-hub:${K8S_HUB_TAG}"
    ]
    args = dict(a.split("=", 1) for op, a in instructions if op == "ARG" and "=" in a)
    assert args["AIINFN_HUB_SPEC"] == f'"aiinfn-hub=={_project_version()}"'
    assert args["JUPYTERHUB_VERSION"] == "5.5.0"  # the chart's appVersion
    # pip runs as root, and the image ends as jovyan, as the chart's hub pod expects
    user, installs = None, 0
    for op, arguments in instructions:
        if op == "USER":
            user = arguments
        if op == "RUN" and "pip install" in arguments:
            assert user == "root", "pip must run as root"
            assert '"${AIINFN_HUB_SPEC}"' in arguments
            installs += 1
    assert installs == 1
    assert user == "jovyan"
    assert instructions[-1] == ("USER", "jovyan")


# ------------------------------------------------------------------------- the jobs service


def _option(command, name):
    """The value after ``name`` in a command line (``--port 10101``)."""
    assert command.count(name) == 1, f"{name} must appear once in {command}"
    return command[command.index(name) + 1]


def _container(values):
    """The jobs service's container in the hub pod."""
    found = [c for c in values["hub"]["extraContainers"] if c["name"] == SERVICE]
    assert len(found) == 1, "one container named aiinfn-jobs in hub.extraContainers"
    return found[0]


def _prefix(values) -> str:
    """Where JupyterHub serves the service: /services/<name>/ below hub.baseUrl."""
    return f"{values['hub'].get('baseUrl', '/').rstrip('/')}/services/{SERVICE}/"


def test_jobs_service_runs_in_its_own_container_of_the_hub_pod(values):
    service = values["hub"]["services"][SERVICE]
    assert "command" not in service, "an external service: its container runs it"
    container = _container(values)
    command = container["command"]
    assert command[:5] == ["python3", "-m", "aiinfn_hub.jobs", "--port", str(PORT)]
    # the URL's host is the hub Service, not an address of the pod: listen on all of them
    assert _option(command, "--ip") == "0.0.0.0"
    assert container["ports"] == [{"name": SERVICE, "containerPort": PORT}]
    assert service["url"] == f"http://hub:{PORT}"
    assert service["oauth_no_confirm"] is True
    assert service["display"] is True
    # the hub's image (aiinfn-hub installed), non-root as the chart's hub container
    image = values["hub"]["image"]
    assert container["image"] == f"{image['name']}:{image['tag']}"
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["runAsUser"] == values["hub"]["containerSecurityContext"]["runAsUser"]
    assert values["hub"]["podSecurityContext"]["runAsNonRoot"] is True


def test_jobs_container_is_probed_on_healthz_and_readyz(values):
    """The kubelet's probes are the service's own unauthenticated /healthz and /readyz, under
    its prefix; the start-up budget outlasts the service's own deadline, so the kubelet never
    kills it before it can say why it cannot start."""
    from aiinfn_hub.jobs.app import JobsService
    from aiinfn_hub.jobs.handlers import HealthzHandler, ReadyzHandler, routes

    container = _container(values)
    startup, liveness = container["startupProbe"], container["livenessProbe"]
    assert startup["httpGet"] == {"path": _prefix(values) + "readyz", "port": SERVICE}
    assert liveness["httpGet"] == {"path": _prefix(values) + "healthz", "port": SERVICE}
    # these paths are the probe handlers of the service
    served = {
        pattern: handler for pattern, handler in routes(_prefix(values)) if "z" in pattern[-2:]
    }
    assert served == {
        startup["httpGet"]["path"]: ReadyzHandler,
        liveness["httpGet"]["path"]: HealthzHandler,
    }
    budget = startup["periodSeconds"] * startup["failureThreshold"]
    assert budget > JobsService.start_timeout.default_value + 30
    # no readinessProbe: the hub pod's readiness gates the hub's own Service
    assert "readinessProbe" not in container
    assert liveness["periodSeconds"] * liveness["failureThreshold"] >= 30


def test_jobs_container_authenticates_as_jupyterhub_tells_a_managed_service(values, monkeypatch):
    """The environment JupyterHub gives a managed service, written out: the token from the
    chart's secret, the hub API in the same pod, the prefix and the OAuth client."""
    from aiinfn_hub.jobs.app import JobsService
    from aiinfn_hub.jobs.auth import HubAuthenticator

    env = {e["name"]: e for e in _container(values)["env"]}
    assert env["JUPYTERHUB_API_TOKEN"]["valueFrom"] == {
        "secretKeyRef": {"name": "hub", "key": f"hub.services.{SERVICE}.apiToken"}
    }
    for name, item in env.items():
        if name != "JUPYTERHUB_API_TOKEN":
            monkeypatch.setenv(name, item["value"])
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "from-the-secret")
    base = values["hub"].get("baseUrl", "/")
    auth = HubAuthenticator().hub_auth
    assert auth.api_url == f"http://127.0.0.1:8081{base.rstrip('/')}/hub/api"
    assert auth.api_token == "from-the-secret"
    assert auth.oauth_client_id == f"service-{SERVICE}"  # JupyterHub's name for the client
    assert auth.oauth_redirect_uri == _prefix(values) + "oauth_callback"
    assert auth.access_scopes == {f"access:services!service={SERVICE}"}
    assert auth.login_url.startswith(f"{base.rstrip('/')}/hub/api/oauth2/authorize?")
    assert JobsService().base_url == _prefix(values)


def test_jobs_service_config_file_is_mounted_in_its_container(values):
    """The service is a separate process: hub.config does not reach it, its config file does,
    mounted from the chart's `files` volume as the chart mounts it in the hub container."""
    command = _container(values)["command"]
    files = {
        key: f for key, f in values["hub"]["extraFiles"].items() if f["mountPath"] == CONFIG_PATH
    }
    assert _option(command, "--config") == CONFIG_PATH and len(files) == 1
    ((key, file),) = files.items()
    assert _container(values)["volumeMounts"] == [
        {"name": "files", "mountPath": CONFIG_PATH, "subPath": key}
    ]
    data = file["data"]
    assert set(data) == {"JobsManager", "PlacementConfig", "KubeSpawner", "AIInfnSpawner"}
    for section in ("PlacementConfig", "KubeSpawner", "AIInfnSpawner"):
        assert data[section] == values["hub"]["config"][section], section
    assert data["JobsManager"]["namespace"] == NAMESPACE


def test_jobs_service_accepts_its_command_line_and_config(values, tmp_path):
    """Run the real JobsService option parsing on the command and the rendered config file."""
    from aiinfn_hub.jobs.app import JobsService
    from aiinfn_hub.jobs.manager import JobsManager

    command = list(_container(values)["command"])
    (data,) = [f["data"] for f in values["hub"]["extraFiles"].values()]
    rendered = tmp_path / "jobs_config.json"
    rendered.write_text(json.dumps(data), encoding="utf-8")  # what the chart writes for .json
    command[command.index("--config") + 1] = str(rendered)
    assert command[:3] == ["python3", "-m", "aiinfn_hub.jobs"]

    app = JobsService()
    try:
        app.initialize(command[3:])
        assert (app.ip, app.port) == ("0.0.0.0", PORT)
        assert "namespace" in JobsManager.class_own_traits(config=True)
        assert app.config.JobsManager.namespace == NAMESPACE
        placer = PlacementConfig(config=app.config).placer()
        table = {row: [s.name for s in sites] for row, sites in placer.table.items()}
        assert table == data["PlacementConfig"]["table"]
    finally:
        JobsService.clear_instance()


def test_jobs_service_keys_are_jupyterhub_service_fields(values):
    """JupyterHub refuses to start on an unknown service field ("No such service field")."""
    from jupyterhub.services.service import Service

    service = values["hub"]["services"][SERVICE]
    fields = set(Service.class_traits(input=True))
    assert set(service) <= fields, sorted(set(service) - fields)
    environment = _container(values)["env"]
    assert all(isinstance(e.get("value", ""), str) for e in environment), environment


def test_port_10101_is_reachable_from_proxy_users_and_hub(values):
    hub = values["hub"]
    service = hub["services"][SERVICE]
    assert int(_option(_container(values)["command"], "--port")) == PORT
    url = urlsplit(service["url"])
    assert (url.hostname, url.port) == ("hub", PORT)

    ports = [p for p in hub["service"]["extraPorts"] if p["port"] == PORT]
    assert len(ports) == 1
    assert ports[0]["targetPort"] == PORT and ports[0].get("protocol", "TCP") == "TCP"
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", ports[0]["name"])
    assert len(ports[0]["name"]) <= 15

    assert hub["networkPolicy"]["enabled"] is True
    sources = set()
    for rule in hub["networkPolicy"]["ingress"]:
        if any(p["port"] == PORT for p in rule["ports"]):
            for peer in rule["from"]:
                assert set(peer) == {"podSelector"}, "port 10101 is for pods of this release"
                labels = peer["podSelector"]["matchLabels"]
                assert labels["app"] == "jupyterhub"
                sources.add(labels["component"])
    assert sources == {"proxy", "singleuser-server", "hub"}

    egress = values["singleuser"]["networkPolicy"]["egress"]
    targets = [
        peer["podSelector"]["matchLabels"]
        for rule in egress
        if any(p["port"] == PORT for p in rule["ports"])
        for peer in rule["to"]
    ]
    assert targets == [{"app": "jupyterhub", "component": "hub"}]


# --------------------------------------------------------------------------- JupyterHub roles


def test_roles_give_the_service_and_users_what_they_need(values):
    from jupyterhub.scopes import scope_definitions

    roles = values["hub"]["loadRoles"]
    for name, role in roles.items():
        for scope in role["scopes"]:
            assert scope.split("!", 1)[0] in scope_definitions, f"{name}: unknown scope {scope}"
        for service in role.get("services", []):
            assert service in values["hub"]["services"], f"{name}: unknown service {service}"

    granted = [r for r in roles.values() if SERVICE in r.get("services", [])]
    assert len(granted) == 1
    assert {"list:users", "read:users:name", "read:users:groups"} <= set(granted[0]["scopes"])
    assert not {"admin:users", "admin:servers", "tokens"} & set(granted[0]["scopes"])

    access = f"access:services!service={SERVICE}"
    # overriding a default role replaces its scopes: `user` must keep `self`
    assert set(roles["user"]["scopes"]) == {"self", access}
    assert set(roles["server"]["scopes"]) == {
        "users:activity!user",
        "access:servers!server",
        access,
    }


# ------------------------------------------------------------------------ the images of jobs


def test_the_images_jobs_may_use_follow_the_spawners_lines():
    """One edit of the users' image in hub.config.KubeSpawner reaches the jobs service's
    allow-list: its config file holds the same section (a YAML alias), not a copy."""
    from aiinfn_hub.jobs.images import ImagePolicy

    text = (HELM_VALUES / "values.yaml").read_text(encoding="utf-8")
    example = "      # image: ghcr.io/infn-ai/aiinfn-hub-lab:0.1.0\n"
    assert text.count(example) == 1
    edited = yaml.safe_load(text.replace(example, "      image: registry.infn.it/ai/lab:2\n"))
    (files,) = edited["hub"]["extraFiles"].values()
    config = Config(json.loads(json.dumps(files["data"])))  # what the chart writes for .json
    policy = ImagePolicy(config=config)
    assert policy.allowed_images == ["registry.infn.it/ai/lab:2"]
    assert policy.allows("registry.infn.it/ai/lab:2")
    assert not policy.allows("registry.infn.it/ai/lab:3")


def test_users_images_are_set_where_the_jobs_service_reads_them(overlay):
    """The chart maps singleuser.image and singleuser.profileList onto KubeSpawner in the hub
    only: set there, the jobs service would refuse the users' own images."""
    singleuser = overlay.get("singleuser") or {}
    assert "image" not in singleuser and "profileList" not in singleuser


# ------------------------------------------------------------------------------- users' servers


def test_users_servers_have_no_kubernetes_credentials_or_api_route(values):
    singleuser = values["singleuser"]
    assert singleuser["networkPolicy"]["enabled"] is True
    assert singleuser["networkPolicy"]["egressAllowRules"]["privateIPs"] is False
    for rule in singleuser["networkPolicy"]["egress"]:
        for peer in rule["to"]:
            assert set(peer) == {"podSelector"}, f"egress beyond pods of the release: {peer}"
    assert singleuser.get("serviceAccountName") is None
    assert values["hub"]["config"]["KubeSpawner"]["automount_service_account_token"] is False


def test_users_servers_know_where_the_jobs_service_is(values):
    """AIInfnSpawner gives each server AIINFN_JOBS_URL and AIINFN_HUB_MODE from these keys."""
    spawner = values["hub"]["config"]["AIInfnSpawner"]
    # the service serves its API under JUPYTERHUB_SERVICE_PREFIX, /services/<name>/ below
    # hub.baseUrl, even when called on its own port rather than through the proxy
    prefix = f"{values['hub'].get('baseUrl', '/').rstrip('/')}/services/{SERVICE}/"
    assert spawner["jobs_service_url"] == values["hub"]["services"][SERVICE]["url"] + prefix
    assert spawner["server_mode"] == "hub"
    # one place only: the spawner sets them, singleuser.extraEnv does not repeat them
    assert not {"AIINFN_JOBS_URL", "AIINFN_HUB_MODE"} & set(values["singleuser"]["extraEnv"])


# ---------------------------------------------------------------------------------- placement


def test_placement_config_builds_the_engine_it_describes(values):
    section = values["hub"]["config"]["PlacementConfig"]
    c = Config()
    c.PlacementConfig = Config(section)
    placer = PlacementConfig(config=c).placer()

    assert set(section["table"]) == set(ROWS)
    assert {row: [s.name for s in sites] for row, sites in placer.table.items()} == section["table"]
    assert section["table"] == {
        "cpu": ["local"],
        "cpu-offloadable": ["tier1", "local"],
        "gpu": ["local"],
        "gpu-offloadable": ["leonardo", "local"],
    }
    for name, override in section["site_overrides"].items():
        timeouts = placer.sites[name].timeouts
        for key, seconds in override["timeouts"].items():
            assert getattr(timeouts, key) == seconds


def test_start_timeouts_beat_kueues_wait_for_pods_ready(values):
    """The hub must move a job before Kueue's 30 min waitForPodsReady requeues it in place."""
    c = Config()
    c.PlacementConfig = Config(values["hub"]["config"]["PlacementConfig"])
    placer = PlacementConfig(config=c).placer()
    for site in placer.sites.values():
        if site.is_offload:
            assert site.timeouts.start < 30 * 60, site.name


def test_service_namespace_matches_the_manifests(values):
    queues = [d for d in load_all(HELM_VALUES / "kueue.yaml") if d["kind"] == "LocalQueue"]
    assert {q["metadata"]["namespace"] for q in queues} == {NAMESPACE}
    (config_file,) = values["hub"]["extraFiles"].values()
    assert config_file["data"]["JobsManager"]["namespace"] == NAMESPACE


# ------------------------------------------------------------------- the examples in every home


def test_every_server_start_copies_the_examples_into_the_home_failing_soft(values, tmp_path):
    """singleuser.lifecycleHooks.postStart runs `aiinfn-hub examples` into ~/examples; run as
    a container would, with the home volume (the chart's homeMountPath) at tmp_path."""
    from aiinfn_hub.examples import EXAMPLES
    from aiinfn_hub.sandbox.volumes import Mounts

    command = values["singleuser"]["lifecycleHooks"]["postStart"]["exec"]["command"]
    home = values["singleuser"]["storage"]["homeMountPath"]
    assert command[:2] == ["sh", "-c"]
    assert re.fullmatch(r'aiinfn-hub examples "\$1" \|\| true', command[2])
    assert command[4:] == [f"{home}/examples"]  # the script's $1, an argument of its own
    mounted = [Mounts([(home, str(tmp_path))]).rewrite(a) for a in command]
    copied = tmp_path / "examples"

    def run(path: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            mounted, env={"PATH": path}, capture_output=True, text=True, timeout=120
        )

    venv_bin = str(Path(sys.executable).parent)
    done = run(f"{venv_bin}:/usr/bin:/bin")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in copied.iterdir()) == sorted(EXAMPLES)
    # an image without aiinfn-hub: no examples, and the server starts all the same
    shutil.rmtree(copied)
    done = run("/usr/bin:/bin")
    assert done.returncode == 0
    assert "aiinfn-hub" in done.stderr and not copied.exists()
