"""Users' home claims: named by KubeSpawner's own code, found in the cluster, missed in words.

A job that asks for the ``pvc`` volume mounts the PersistentVolumeClaim that KubeSpawner made
for its owner's default server. KubeSpawner names it from ``pvc_name_template`` (default
``claim-{user_server}``) and ``slug_scheme`` (default ``safe``: ``mario.rossi`` becomes
``claim-mario-rossi---1729ec91``); :class:`HomeClaim` renders the name with KubeSpawner's own
template expansion, never a copy of its slugging, from the spawner's configured values (the
hub hands them to the service in :data:`SPAWNER_ENV`, see ``aiinfn_hub.spawner.wiring``).

KubeSpawner remembers a claim's name in the server's state (``remember_pvc_name``), so after
an admin changes the template or the slug scheme a user keeps the claim made under the old
one. The service cannot read that state, but KubeSpawner labels each claim it makes
``component=singleuser-storage`` and annotates it with the raw user name (and server name, for
a named server): when the rendered name does not exist, the claim so marked for the user's
default server is the one their server mounts, and the job mounts it too.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

from kubespawner import KubeSpawner
from traitlets import Enum, TraitError, Unicode, default, validate
from traitlets.config import LoggingConfigurable

from ..errors import ClusterUnavailable, Unprocessable
from ..kube.claimnaming import (
    SERVERNAME_ANNOTATION,
    SPAWNER_ENV,
    STORAGE_COMPONENT,
    STORAGE_SELECTOR,
    USERNAME_ANNOTATION,
    naming_in_config,
)
from ..kube.client import Kube, KubeError
from .labels import HOME_CLAIM
from .model import JobSpec

#: Template fields KubeSpawner fills from what only the hub knows (the user's database id, and
#: names rendered from other templates).
UNKNOWABLE_FIELDS = frozenset({"userid", "pod_name", "pvc_name"})
_KUBESPAWNER = KubeSpawner.class_traits()
_NOT_FOUND = re.compile(r'persistentvolumeclaim "([^"]+)" (not found|is being deleted)')


def _spawner_default(name: str, config: Mapping[str, Any]) -> Any:
    """The spawner's value: handed over by the hub (a managed service's environment), else
    the spawner's sections of the service's own configuration (a service in a container of
    its own, whose config file carries the hub's sections), else KubeSpawner's default."""
    return (
        os.environ.get(SPAWNER_ENV[name])
        or naming_in_config(config).get(name)
        or _KUBESPAWNER[name].default()
    )


class _DefaultServer(SimpleNamespace):
    """What ``KubeSpawner._expand_user_properties`` reads of a spawner, for a user's default
    server (no server name) in ``namespace``."""

    def _namespace_default(self) -> str:
        found: str = self.namespace
        return found


class HomeClaim(LoggingConfigurable):
    """How a user's home claim is named: the spawner's template and slug scheme."""

    pvc_name_template = Unicode(
        help="KubeSpawner.pvc_name_template of the hub's spawner: the name of each user's home "
        "claim. Leave it unset: the hub passes the spawner's own value to the service "
        f"(${SPAWNER_ENV['pvc_name_template']}), or the service's config file carries the "
        "spawner's KubeSpawner/AIInfnSpawner sections, and without either KubeSpawner's "
        "default applies. If set, it must equal the spawner's (checked at start-up).",
    ).tag(config=True)
    slug_scheme = Enum(
        _KUBESPAWNER["slug_scheme"].values,
        help="KubeSpawner.slug_scheme of the hub's spawner: how the user name is made safe in "
        "the claim's name. Leave it unset, as pvc_name_template.",
    ).tag(config=True)

    def __init__(self, namespace: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.namespace = namespace  # where the hub's spawner makes the claims

    @default("pvc_name_template")
    def _template_default(self) -> str:
        found: str = _spawner_default("pvc_name_template", self.config)
        return found

    @default("slug_scheme")
    def _scheme_default(self) -> str:
        found: str = _spawner_default("slug_scheme", self.config)
        return found

    @validate("pvc_name_template")
    def _check_template(self, proposal: Any) -> str:
        """A template the service can render: only fields it knows, well formed."""
        template = proposal["value"]
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
        except ValueError as exc:
            raise TraitError(
                f"the home claims' pvc_name_template {template!r} is not a template: {exc}"
            ) from None
        unknowable = sorted(fields & UNKNOWABLE_FIELDS)
        if unknowable:
            raise TraitError(
                f"the home claims' pvc_name_template {template!r} (KubeSpawner's, which "
                f"HomeClaim follows) uses {{{unknowable[0]}}}, which only the hub knows: the "
                "jobs service cannot find users' home claims; use a template without it"
            )
        found: str = template
        return found

    def check(self) -> None:
        """At start-up: a template the service can render, and no value set for the service
        that differs from the spawner's (ValueError or TraitError, one line naming both)."""
        self._check_template({"value": self.pvc_name_template})
        mine = self.config.get("HomeClaim") or {}
        for name, variable in SPAWNER_ENV.items():
            theirs = os.environ.get(variable)
            if name in mine and theirs and mine[name] != theirs:
                raise ValueError(
                    f"HomeClaim.{name} is {mine[name]!r} but the hub's spawner has "
                    f"KubeSpawner.{name} {theirs!r}: remove HomeClaim.{name} from the jobs "
                    "service's configuration (it follows the spawner's)"
                )

    def name_for(self, user: str) -> str:
        """The claim KubeSpawner names for ``user``'s default server, rendered by
        KubeSpawner's own template expansion."""
        server = _DefaultServer(
            user=SimpleNamespace(name=user, id=None),
            name="",
            slug_scheme=self.slug_scheme,
            namespace=self.namespace,
        )
        found: str = KubeSpawner._expand_user_properties(server, self.pvc_name_template)
        return found

    def recorded(self, annotations: Mapping[str, str], owner: str) -> str:
        """A job's home claim: as found when it was submitted, else as named now."""
        return annotations.get(HOME_CLAIM) or self.name_for(owner)

    async def find(self, kube: Kube, user: str) -> str:
        """The name of the claim ``user``'s default server mounts, or a 422 in words.

        The rendered name first; else the claim KubeSpawner labelled for the user's default
        server under an earlier template or slug scheme (it remembers that name)."""
        rendered = self.name_for(user)
        try:
            await kube.get("pvc", rendered)
            return rendered
        except KubeError as exc:
            if exc.status != 404:
                raise
        listed = await kube.list("pvc", STORAGE_SELECTOR)
        mine = sorted(
            claim["metadata"]["name"]
            for claim in listed.get("items") or ()
            if _is_default_home(claim, user)
        )
        if len(mine) == 1:
            found: str = mine[0]
            return found
        if mine:
            raise Unprocessable(
                f"you have several home volumes ({', '.join(mine)}) and none is named as the "
                "hub names it now; ask the admins which one your server uses",
                "volumes",
            )
        raise Unprocessable(
            "you have no home volume yet: start your notebook server once (it creates the "
            "volume), then submit the job again",
            "volumes",
        )

    async def resolve(self, kube: Kube, user: str, spec: JobSpec) -> str | None:
        """The home claim a job mounts (None if it mounts none), after checking that every
        claim it names exists; Kubernetes failing to answer is a 503 in words."""
        try:
            return await self._resolve(kube, user, spec)
        except KubeError as exc:
            raise ClusterUnavailable(
                f"your job's volumes could not be checked: {exc.plain()}; try again in a minute"
            ) from None

    async def _resolve(self, kube: Kube, user: str, spec: JobSpec) -> str | None:
        home = None
        for need in spec.request.volumes:
            if need.type != "pvc":
                continue
            if need.name in ("", "home", self.name_for(user)):
                home = home or await self.find(kube, user)
                continue
            try:
                await kube.get("pvc", need.name)
            except KubeError as exc:
                if exc.status != 404:
                    raise
                raise Unprocessable(
                    f"the shared volume {need.name!r} does not exist in the cluster; ask the "
                    "admins to create it",
                    "volumes",
                ) from None
        return home


def home_claim_manifest(name: str, user: str, storage: str = "1Gi") -> dict[str, Any]:
    """A home claim shaped as KubeSpawner makes one for ``user``'s default server (where no
    hub makes it: standalone mode, tests)."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": name,
            "labels": {"component": STORAGE_COMPONENT},
            "annotations": {USERNAME_ANNOTATION: user},
        },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": storage}},
        },
    }


def _is_default_home(claim: Mapping[str, Any], user: str) -> bool:
    """A claim KubeSpawner made for ``user``'s default server."""
    annotations = (claim.get("metadata") or {}).get("annotations") or {}
    return annotations.get(USERNAME_ANNOTATION) == user and not annotations.get(
        SERVERNAME_ANNOTATION
    )


def missing_claim(pods: Sequence[Mapping[str, Any]]) -> str | None:
    """Why an attempt cannot start because a claim it mounts does not exist, in words: the
    scheduler leaves such a pod Pending (PodScheduled False, Unschedulable) and names the
    claim (``persistentvolumeclaim "x" not found``)."""
    for pod in pods:
        for cond in (pod.get("status") or {}).get("conditions") or ():
            if cond.get("type") != "PodScheduled" or cond.get("status") != "False":
                continue
            found = _NOT_FOUND.search(cond.get("message") or "")
            if found:
                claim, what = found.groups()
                gone = "does not exist" if what == "not found" else "is being deleted"
                return (
                    f"it cannot start: its volume {claim!r} {gone} in the cluster (if it is "
                    "your home volume, start your notebook server once to create it, then "
                    "run the job again)"
                )
    return None
