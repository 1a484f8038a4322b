"""Users' home claims: named exactly as KubeSpawner names them, found when renamed, and a
missing one said in words.

The service renders the name with KubeSpawner's own (private) template expansion: the tests
here compare it with a real KubeSpawner's ``pvc_name`` for generated user names, and fail if
KubeSpawner changes that member.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kubespawner import KubeSpawner
from traitlets import TraitError
from traitlets.config import Config

from aiinfn_hub.errors import AIInfnError
from aiinfn_hub.jobs import claims
from aiinfn_hub.jobs.claims import HomeClaim, home_claim_manifest, missing_claim
from aiinfn_hub.jobs.model import parse_spec
from aiinfn_hub.kube.claimnaming import SPAWNER_ENV
from aiinfn_hub.kube.client import KubeError
from aiinfn_hub.placement import Placer

#: User names a real hub has and the sandbox's defaults do not.
NAMES = [
    "mario.rossi",
    "mario.rossi@infn.it",
    "Anna_Bianchi",
    "ANNA",
    "luca--verdi",
    "0day",
    "x" * 200,
    "giulia.neri+jobs@studenti.unipi.it",
    "ünïcode-ütente",
]
TEMPLATES = [
    "claim-{user_server}",  # KubeSpawner's default
    "claim-{username}{servername}",
    "home-{username}",
    "{escaped_username}-home",
    "claim-{safe_user_server}-{hubnamespace}",
    "claim-{unescaped_username}",
]
#: Every field KubeSpawner's template expansion offers.
FIELDS = [
    "userid",
    "unescaped_username",
    "unescaped_servername",
    "hubnamespace",
    "username",
    "servername",
    "user_server",
    "safe_username",
    "safe_servername",
    "safe_user_server",
    "escaped_username",
    "escaped_servername",
    "escaped_user_server",
    "pod_name",
    "pvc_name",
    "namespace",
]


class User:
    """What KubeSpawner reads of a JupyterHub user."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.id = 7
        self.url = f"/user/{name}/"


@pytest.fixture(autouse=True)
def no_spawner_env(monkeypatch):
    for variable in SPAWNER_ENV.values():
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture(scope="module")
def spawner_pvc_name():
    """A real KubeSpawner's ``pvc_name`` for a user (no Kubernetes client: none is used)."""
    patch = pytest.MonkeyPatch()
    patch.setattr("kubespawner.spawner.load_config", lambda **_: None)
    patch.setattr("kubespawner.spawner.shared_client", lambda *_, **__: None)

    def pvc_name(user: str, template: str | None = None, scheme: str | None = None) -> str:
        config = Config()
        config.KubeSpawner.namespace = "default"
        if template is not None:
            config.KubeSpawner.pvc_name_template = template
        if scheme is not None:
            config.KubeSpawner.slug_scheme = scheme
        return KubeSpawner(_mock=True, user=User(user), config=config).pvc_name

    yield pvc_name
    patch.undo()


def home(template: str | None = None, scheme: str | None = None) -> HomeClaim:
    config = Config()
    if template is not None:
        config.HomeClaim.pvc_name_template = template
    if scheme is not None:
        config.HomeClaim.slug_scheme = scheme
    return HomeClaim("default", config=config)


def test_mario_rossi_gets_kubespawners_claim(spawner_pvc_name):
    assert home().name_for("mario.rossi") == "claim-mario-rossi---1729ec91"
    assert spawner_pvc_name("mario.rossi") == "claim-mario-rossi---1729ec91"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("scheme", ["safe", "escape"])
def test_real_user_names_get_kubespawners_claim(spawner_pvc_name, name, template, scheme):
    assert home(template, scheme).name_for(name) == spawner_pvc_name(name, template, scheme)


@settings(max_examples=300, deadline=None)
@given(
    name=st.one_of(
        st.text(min_size=1, max_size=120),
        st.text(
            alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.@_-+",
            min_size=1,
            max_size=120,
        ),
    ),
    template=st.sampled_from(TEMPLATES),
    scheme=st.sampled_from(["safe", "escape"]),
)
def test_any_user_name_gets_kubespawners_claim(spawner_pvc_name, name, template, scheme):
    assert home(template, scheme).name_for(name) == spawner_pvc_name(name, template, scheme)


def test_the_defaults_are_kubespawners_own():
    traits = KubeSpawner.class_traits()
    found = home()
    assert found.pvc_name_template == traits["pvc_name_template"].default()
    assert found.slug_scheme == traits["slug_scheme"].default()


def test_kubespawners_private_template_expansion_is_as_the_service_calls_it(spawner_pvc_name):
    """``KubeSpawner._expand_user_properties(self, template, slug_scheme=None)``, reading
    ``user.name``, ``user.id``, ``name``, ``slug_scheme``, ``_namespace_default()`` and the
    optional pod_name/pvc_name/namespace: if KubeSpawner changes it, this fails."""
    signature = inspect.signature(KubeSpawner._expand_user_properties)
    assert list(signature.parameters) == ["self", "template", "slug_scheme"]
    assert signature.parameters["slug_scheme"].default is None
    every = "-".join(f"{{{field}}}" for field in FIELDS)
    assert spawner_pvc_name("mario.rossi", every)  # KubeSpawner offers every field
    knowable = "-".join(f"{{{f}}}" for f in FIELDS if f not in claims.UNKNOWABLE_FIELDS)
    assert home(knowable).name_for("mario.rossi") == spawner_pvc_name("mario.rossi", knowable)


def test_the_spawners_values_handed_over_by_the_hub_are_the_defaults(monkeypatch):
    monkeypatch.setenv(SPAWNER_ENV["pvc_name_template"], "home-{username}")
    monkeypatch.setenv(SPAWNER_ENV["slug_scheme"], "escape")
    found = home()
    found.check()
    assert found.name_for("mario.rossi") == "home-mario-2erossi"
    home("home-{username}", "escape").check()  # set the same for the service: fine


def test_a_service_setting_that_differs_from_the_spawners_is_refused_in_one_line(monkeypatch):
    monkeypatch.setenv(SPAWNER_ENV["pvc_name_template"], "claim-{user_server}")
    with pytest.raises(ValueError) as caught:
        home("claim-{username}").check()
    message = str(caught.value)
    assert "\n" not in message
    assert "HomeClaim.pvc_name_template is 'claim-{username}'" in message
    assert "KubeSpawner.pvc_name_template 'claim-{user_server}'" in message


@pytest.mark.parametrize("field", sorted(claims.UNKNOWABLE_FIELDS))
def test_a_template_with_what_only_the_hub_knows_is_refused(field):
    with pytest.raises(TraitError, match=f"uses {{{field}}}, which only the hub knows"):
        home(f"claim-{{{field}}}").check()


def test_a_spawner_template_with_what_only_the_hub_knows_is_refused(monkeypatch):
    monkeypatch.setenv(SPAWNER_ENV["pvc_name_template"], "claim-{userid}")
    with pytest.raises(TraitError, match="KubeSpawner's, which HomeClaim follows"):
        home().check()


# --------------------------------------------------------------------------- finding a claim


class FakeKube:
    """The claims a namespace holds, as the jobs service's Kube reads them."""

    namespace = "default"

    def __init__(self, *found: dict[str, Any]) -> None:
        self.claims = {c["metadata"]["name"]: c for c in found}

    async def get(self, kind: str, name: str) -> dict[str, Any]:
        assert kind == "pvc"
        if name not in self.claims:
            raise KubeError(404, "NotFound", f'persistentvolumeclaims "{name}" not found')
        return self.claims[name]

    async def list(self, kind: str, label_selector: str) -> dict[str, Any]:
        assert (kind, label_selector) == ("pvc", "component=singleuser-storage")
        return {"items": list(self.claims.values())}


def claim(name: str, user: str, server: str = "") -> dict[str, Any]:
    made = home_claim_manifest(name, user)
    if server:
        made["metadata"]["annotations"]["hub.jupyter.org/servername"] = server
    return made


async def test_the_rendered_claim_is_found_first():
    kube = FakeKube(
        claim("claim-mario-rossi---1729ec91", "mario.rossi"), claim("old", "mario.rossi")
    )
    assert await home().find(kube, "mario.rossi") == "claim-mario-rossi---1729ec91"


async def test_a_claim_kept_from_an_earlier_template_is_found_by_its_annotation():
    kube = FakeKube(
        claim("claim-mario-2erossi", "mario.rossi"),  # KubeSpawner 6's escape scheme
        claim("claim-mario-rossi---1729ec91--gpu", "mario.rossi", server="gpu"),
        claim("claim-mario-rossi2", "mario.rossi2"),
    )
    assert await home().find(kube, "mario.rossi") == "claim-mario-2erossi"


async def test_no_home_claim_yet_is_a_422_in_words():
    kube = FakeKube(claim("claim-anna-bianchi---6db1737c--lab", "Anna_Bianchi", server="lab"))
    with pytest.raises(AIInfnError) as caught:
        await home().find(kube, "Anna_Bianchi")
    assert caught.value.status == 422
    assert caught.value.message.startswith(
        "you have no home volume yet: start your notebook server once"
    )


async def test_several_home_claims_and_none_as_named_now_is_a_422_naming_them():
    kube = FakeKube(claim("a-home", "mario.rossi"), claim("b-home", "mario.rossi"))
    with pytest.raises(AIInfnError, match=r"several home volumes \(a-home, b-home\)") as caught:
        await home().find(kube, "mario.rossi")
    assert caught.value.status == 422


async def test_a_shared_claim_that_does_not_exist_is_a_422():
    placer = Placer()
    spec = parse_spec({"command": ["true"], "volumes": ["pvc", "pvc:datasets"]}, placer, 100)
    kube = FakeKube(claim("claim-carol", "carol"))
    with pytest.raises(AIInfnError, match="the shared volume 'datasets' does not exist") as caught:
        await home().resolve(kube, "carol", spec)
    assert caught.value.status == 422
    kube.claims["datasets"] = {"metadata": {"name": "datasets"}}
    assert await home().resolve(kube, "carol", spec) == "claim-carol"
    none = parse_spec({"command": ["true"], "volumes": ["emptydir"]}, placer, 100)
    assert await home().resolve(FakeKube(), "carol", none) is None


async def test_kubernetes_failing_to_answer_is_a_503_in_words():
    class Failing(FakeKube):
        async def get(self, kind: str, name: str) -> dict[str, Any]:
            raise KubeError(0, "Unreachable", "connection refused")

    spec = parse_spec({"command": ["true"], "volumes": ["pvc"]}, Placer(), 100)
    with pytest.raises(AIInfnError) as caught:
        await home().resolve(Failing(), "carol", spec)
    assert caught.value.status == 503
    assert caught.value.message == (
        "your job's volumes could not be checked: the Kubernetes API server cannot be reached "
        "(connection refused); try again in a minute"
    )


def test_a_pod_whose_claim_is_missing_says_so_in_words():
    pending = {
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": '0/3 nodes are available: persistentvolumeclaim "claim-x" not '
                    "found. not found",  # as kube-scheduler 1.36.3 writes it
                }
            ],
        }
    }
    said = missing_claim([pending])
    assert said is not None and "its volume 'claim-x' does not exist in the cluster" in said
    assert "start your notebook server once" in said
    insufficient = {
        "status": {
            "conditions": [{"type": "PodScheduled", "status": "False", "message": "0/3 nodes: cpu"}]
        }
    }
    assert missing_claim([insufficient]) is None
    assert missing_claim([]) is None
