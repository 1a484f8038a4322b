"""Is the jobs service ready, and if it cannot become so, why, in one line with the fix.

At start the service waits for its caches (:class:`~.cache.Reflector`) to hold a first list
of every kind it watches. A failure is retried until a deadline; at the deadline
:func:`wait_synced` raises :class:`StartupError` whose one line names what is missing and
the command that fixes it, as KubeSpawner's reflectors give up with a message: Kueue not
installed (the API server does not serve Workloads), a permission the service account lacks
(``helm-values/rbac.yaml`` not applied), or an API server that does not answer. The spawner's
own watch cache uses the same words (:mod:`aiinfn_hub.spawner.clusterview`).

After the start, :func:`readiness` answers ``/readyz``: caches synced, and the API server
answering, or not answering for less than a grace period.
"""

from __future__ import annotations

import asyncio
import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .cache import Reflector
from .client import RETRIABLE, Contact, Kube, KubeError

RBAC_FILE = "helm-values/rbac.yaml"
KUEUE_FILE = "helm-values/kueue.yaml"
#: The namespace helm-values/rbac.yaml and kueue.yaml are written for.
MANIFEST_NAMESPACE = "jhub"
_USER = re.compile(r'User "([^"]+)"')


class Grantor(enum.Enum):
    """Who grants the hub's service account a right to a kind."""

    CHART = "the zero-to-jupyterhub chart's hub Role"
    RBAC_YAML = RBAC_FILE


@dataclass(frozen=True)
class Watched:
    """A kind the service lists and watches, as RBAC and the API server name it."""

    resource: str  # e.g. ``jobs.batch``
    version: str  # the API version listed
    namespaced: bool
    grantor: Grantor


#: Each kind a reflector of the service or the spawner watches (the reflector's ``kind``).
WATCHED: dict[str, Watched] = {
    "configmap": Watched("configmaps", "v1", True, Grantor.RBAC_YAML),
    "job": Watched("jobs.batch", "v1", True, Grantor.RBAC_YAML),
    "pod": Watched("pods", "v1", True, Grantor.CHART),
    "workload": Watched("workloads.kueue.x-k8s.io", "v1beta2", True, Grantor.RBAC_YAML),
    "node": Watched("nodes", "v1", False, Grantor.RBAC_YAML),
}


class StartupError(Exception):
    """The service cannot start: one line saying what is missing and how to fix it."""


def _rbac_fix(namespace: str) -> str:
    command = f"kubectl apply -n {namespace} -f {RBAC_FILE}"
    if namespace != MANIFEST_NAMESPACE:
        command += f" (with its namespace {MANIFEST_NAMESPACE} changed to {namespace})"
    return command


def _forbidden(denied: Mapping[str, KubeError], namespace: str) -> str:
    """One line for every kind the credentials may not list, and the fix."""
    who = next((m.group(1) for e in denied.values() if (m := _USER.search(e.message))), "")
    if who.startswith("system:serviceaccount:"):
        subject = f"the service account {who}"
    elif who:
        subject = f"the user {who}"
    else:
        subject = "the jobs service's credentials"
    scoped = [WATCHED[k].resource for k in denied if WATCHED[k].namespaced]
    cluster = [WATCHED[k].resource for k in denied if not WATCHED[k].namespaced]
    parts = []
    if scoped:
        parts.append(f"{', '.join(scoped)} in namespace {namespace}")
    if cluster:
        parts.append(f"{', '.join(cluster)} (cluster-wide)")
    fixes = []
    if any(WATCHED[k].grantor is Grantor.RBAC_YAML for k in denied):
        fixes.append(_rbac_fix(namespace))
    if any(WATCHED[k].grantor is Grantor.CHART for k in denied):
        fixes.append(f"keep rbac.create: true in the chart's values ({Grantor.CHART.value})")
    return f"{subject} may not list {' nor '.join(parts)}: {'; and '.join(fixes)}"


def diagnose(
    errors: Mapping[str, KubeError | None], *, host: str, namespace: str, waited: float
) -> str:
    """One line for caches that never synced: ``errors`` maps each kind not synced to its
    latest failure (None: no answer yet). The most basic cause wins: no API server, then
    credentials it refuses, then a server that fails, then what is not installed, then
    permissions, each with the command that fixes it."""
    failed = {kind: e for kind, e in errors.items() if e is not None}
    unreachable = next((e for e in failed.values() if e.status == 0), None)
    if unreachable is not None:
        return f"cannot reach the Kubernetes API server at {host}: {unreachable.message}"
    if any(e.status == 401 for e in failed.values()):
        return (
            f"the Kubernetes API server at {host} does not accept the jobs service's "
            "credentials (401 Unauthorized): check the pod's service account token, or "
            "the kubeconfig's user"
        )
    failing = next((e for e in failed.values() if e.status in RETRIABLE), None)
    if failing is not None:
        return (
            f"the Kubernetes API server at {host} keeps failing ({failing.status} "
            f"{failing.reason}: {failing.message}); check the control plane"
        )
    missing = [kind for kind, e in failed.items() if e.status == 404]
    if "workload" in missing:
        served = f"{WATCHED['workload'].resource}/{WATCHED['workload'].version}"
        return (
            f"Kueue is not installed in this cluster (the API server does not serve "
            f"{served}): install Kueue, then kubectl apply -f {KUEUE_FILE}"
        )
    if missing:
        what = ", ".join(f"{WATCHED[k].resource}/{WATCHED[k].version}" for k in missing)
        return f"the Kubernetes API server at {host} does not serve {what}"
    denied = {kind: e for kind, e in failed.items() if e.status == 403}
    if denied:
        return _forbidden(denied, namespace)
    if failed:
        kind, error = next(iter(failed.items()))
        return f"listing {WATCHED[kind].resource} failed: {error.plain()}"
    what = ", ".join(WATCHED[kind].resource for kind in errors)
    return (
        f"no answer from the Kubernetes API server at {host} within {waited:g} s while "
        f"listing {what}"
    )


async def wait_synced(reflectors: Iterable[Reflector], *, timeout: float, kube: Kube) -> None:
    """Wait until every reflector holds a first list; :class:`StartupError` after
    ``timeout`` seconds, saying why. Failures before the deadline are only retried. A list
    still being retried inside :meth:`Kube.call` has no error of its own yet: the client's
    latest failure stands for it."""
    reflectors = list(reflectors)
    try:
        await asyncio.wait_for(asyncio.gather(*(r.synced.wait() for r in reflectors)), timeout)
    except asyncio.TimeoutError:
        pending = kube.contact.last_failure
        errors = {r.kind: r.last_error or pending for r in reflectors if not r.synced.is_set()}
        raise StartupError(
            diagnose(errors, host=kube.host, namespace=kube.namespace, waited=timeout)
        ) from None


class Readiness(enum.Enum):
    """What ``/readyz`` answers (and nothing more)."""

    READY = "ready"
    NOT_READY = "not ready"


def readiness(
    reflectors: Iterable[Reflector], contact: Contact, grace: float
) -> tuple[Readiness, str]:
    """Ready when every cache holds a first list and the API server answers (or has not
    answered for less than ``grace`` seconds); with the reason, for the service's log."""
    waiting = [r.kind for r in reflectors if not r.synced.is_set()]
    if waiting:
        names = ", ".join(WATCHED[k].resource if k in WATCHED else k for k in waiting)
        return Readiness.NOT_READY, f"waiting for the first list of {names}"
    silent = contact.failing_for()
    if silent >= grace:
        return (
            Readiness.NOT_READY,
            f"the Kubernetes API server has not answered for {silent:.0f} s",
        )
    return Readiness.READY, "caches synced and the Kubernetes API server answers"
