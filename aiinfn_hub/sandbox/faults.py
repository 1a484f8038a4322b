"""Faults on demand, named per site, with one Python API in process and over HTTP.

- site-down: the site's nodes Ready=False (virtual nodes: InterlinkConnectivity=False with
  reason InterlinkPingFailed) and tainted not-ready; pods already sent there stay Pending.
- maintenance: the site's maintenance taint on its nodes (a local site: nodes cordoned).
- stall-admission: the site's ClusterQueue admits nothing (QuotaReserved=False, "insufficient
  unused quota": reason Pending, or WaitingForQuota with Kueue's observability gate).
- provider-failure: remote submissions fail: pod Failed, reason ProviderFailed, containers
  terminated with exit code 1 and reason ProviderFailed.
- exit-code: remote jobs end with an infrastructure code (404, 502): pod Failed "Error: 404".
- preempt: the admitted workloads of the site's ClusterQueue are evicted (Preempted).
- api-latency: every Kubernetes request waits ``ms`` milliseconds first.
- api-errors: a ``fraction`` of Kubernetes requests answer 503 ServiceUnavailable.
- drop-watches: every open watch stream is closed now (one shot).
- forbid: RBAC refuses a ``resource`` (``jobs.batch``, ``pods``, ``pods/log``,
  ``workloads.kueue.x-k8s.io``) for some ``verbs`` (all when none are named), with the
  API server's 403 naming the requester as ``user`` (the sandbox's token: ``aiinfn-sandbox``):
  a least-privilege token that lacks a rule.
- clear: all of the above off.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..faultsyntax import FaultWords, one_detail, read_fault
from .api import Api
from .topology import Topology, set_maintenance, set_node_health

FAULTS = (
    "site-down",
    "maintenance",
    "stall-admission",
    "provider-failure",
    "exit-code",
    "preempt",
    "api-latency",
    "api-errors",
    "drop-watches",
    "forbid",
    "clear",
)
SITE_FAULTS = FAULTS[:6]
#: Faults that take a number, and the request key it goes in.
VALUE_FAULTS = {"api-latency": "ms", "api-errors": "fraction"}
_VALUE_EXAMPLES = {"api-latency": "200", "api-errors": "0.2"}
DEFAULT_PROVIDER_ERROR = "Error creating the remote job: HTTP 504 Gateway Timeout"
#: Who the API server says the sandbox's token belongs to (the kubeconfig's user).
SANDBOX_USER = "aiinfn-sandbox"


def fault_request(
    words: FaultWords, *, off: bool = False, options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The request for a fault as written (``provider-failure:tier1``, ``exit-code tier1``,
    ``api-latency:200``) with the command's options (``message``, ``code``, ``ms``,
    ``fraction``, ``resource``, ``verbs``, ``user``); ValueError says what is wrong."""
    name = words.name
    if name not in FAULTS:
        raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
    request: dict[str, Any] = {"fault": name, "on": not off}
    request.update({k: v for k, v in (options or {}).items() if v is not None})
    if name in SITE_FAULTS:
        if not words.target:
            raise ValueError(f"name the site, e.g. {name}:leonardo")
        request["site"] = words.target
        option = "code" if name == "exit-code" else "message"
        detail = one_detail(words, f"--{option}", request.pop(option, None))
        if detail is not None and name == "exit-code":
            try:
                request["code"] = int(detail)
            except ValueError:
                raise ValueError(
                    f"the exit code is a whole number, e.g. exit-code:{words.target}:502"
                ) from None
        elif detail is not None:
            request["message"] = detail
    elif name in VALUE_FAULTS:
        key = VALUE_FAULTS[name]
        value = one_detail(FaultWords(name, None, words.target), f"--{key}", request.pop(key, None))
        if value is not None:
            try:
                request[key] = float(value)
            except ValueError:
                example = f"{name}:{_VALUE_EXAMPLES[name]}"
                raise ValueError(f"{name} takes a number, e.g. {example}") from None
    elif words.target:
        raise ValueError(f"{name} takes no site")
    return request


def parse_fault(text: str) -> dict[str, Any]:
    """A fault to start with, written ``NAME:SITE[:MESSAGE]``, ``exit-code:SITE[:CODE]`` or
    ``NAME:NUMBER`` (``provider-failure:tier1``, ``site-down:leonardo:power cut``,
    ``exit-code:tier1:502``, ``api-latency:200``) as a fault request; ValueError says what is
    wrong."""
    words = read_fault(text)
    startable = [*(f for f in SITE_FAULTS if f != "preempt"), *VALUE_FAULTS]
    if words.name not in startable:
        raise ValueError(f"{text}: unknown fault {words.name!r}; known: {', '.join(startable)}")
    if words.name in VALUE_FAULTS and words.target is None:
        example = f"{words.name}:{_VALUE_EXAMPLES[words.name]}"
        raise ValueError(f"{text}: {words.name} takes a number, e.g. {example}")
    try:
        return fault_request(words)
    except ValueError as exc:
        raise ValueError(f"{text}: {exc}") from None


def _number(request: dict[str, Any], key: str, fault: str, default: float, whole=False) -> float:
    """``request[key]`` as a number (``default`` when absent); ValueError names the field."""
    value = request.get(key)
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = None
    if (
        number is None
        or isinstance(value, bool)
        or not math.isfinite(number)
        or (whole and not number.is_integer())
    ):
        kind = "a whole number" if whole else "a number"
        raise ValueError(f"{fault}: {key} must be {kind}, got {value!r}") from None
    return number


def _forbid_args(request: dict[str, Any]) -> tuple[str, frozenset[str], str]:
    """The forbid fault's resource, verbs and user; ValueError names what is wrong."""
    resource = request.get("resource")
    if not isinstance(resource, str) or not resource:
        raise ValueError("forbid: name the resource, e.g. jobs.batch, pods or pods/log")
    verbs = request.get("verbs") or []
    if not isinstance(verbs, list) or not all(isinstance(v, str) for v in verbs):
        raise ValueError(f"forbid: verbs must be a list of RBAC verbs, got {verbs!r}")
    user = request.get("user") or SANDBOX_USER
    if not isinstance(user, str):
        raise ValueError(f"forbid: user must be text, got {user!r}")
    return resource, frozenset(verbs), user


class FaultSwitches:
    """The fault API; subclasses apply a request (in process, or over HTTP)."""

    def _apply(self, request: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def site_down(self, site: str, on: bool = True, message: str | None = None) -> dict[str, Any]:
        return self._apply({"fault": "site-down", "site": site, "on": on, "message": message})

    def maintenance(self, site: str, on: bool = True) -> dict[str, Any]:
        return self._apply({"fault": "maintenance", "site": site, "on": on})

    def stall_admission(self, site: str, on: bool = True) -> dict[str, Any]:
        return self._apply({"fault": "stall-admission", "site": site, "on": on})

    def provider_failure(
        self, site: str, on: bool = True, message: str | None = None
    ) -> dict[str, Any]:
        return self._apply(
            {"fault": "provider-failure", "site": site, "on": on, "message": message}
        )

    def infra_exit_code(self, site: str, code: int = 404, on: bool = True) -> dict[str, Any]:
        return self._apply({"fault": "exit-code", "site": site, "on": on, "code": code})

    def preempt(self, site: str) -> dict[str, Any]:
        return self._apply({"fault": "preempt", "site": site})

    def api_latency(self, ms: float) -> dict[str, Any]:
        return self._apply({"fault": "api-latency", "ms": ms})

    def api_errors(self, fraction: float) -> dict[str, Any]:
        return self._apply({"fault": "api-errors", "fraction": fraction})

    def drop_watches(self) -> dict[str, Any]:
        return self._apply({"fault": "drop-watches"})

    def forbid(
        self, resource: str, verbs: tuple[str, ...] = (), user: str | None = None, on: bool = True
    ) -> dict[str, Any]:
        request = {"fault": "forbid", "resource": resource, "on": on, "user": user}
        return self._apply({**request, "verbs": list(verbs)})

    def clear(self) -> dict[str, Any]:
        return self._apply({"fault": "clear"})


@dataclass
class FaultState:
    down: dict[str, str] = field(default_factory=dict)  # site -> message
    maintenance: set[str] = field(default_factory=set)
    stalled: set[str] = field(default_factory=set)
    provider_failure: dict[str, str] = field(default_factory=dict)
    exit_code: dict[str, int] = field(default_factory=dict)
    latency_ms: float = 0.0
    error_fraction: float = 0.0
    #: ``resource[/subresource][.group]`` -> (verbs refused, empty: all; the user named)
    forbidden: dict[str, tuple[frozenset[str], str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "site-down": sorted(self.down),
            "maintenance": sorted(self.maintenance),
            "stall-admission": sorted(self.stalled),
            "provider-failure": dict(sorted(self.provider_failure.items())),
            "exit-code": dict(sorted(self.exit_code.items())),
            "api-latency": self.latency_ms,
            "api-errors": self.error_fraction,
            "forbid": {
                resource: {"verbs": sorted(verbs), "user": user}
                for resource, (verbs, user) in sorted(self.forbidden.items())
            },
        }


class Faults(FaultSwitches):
    """In-process faults: state the kubelets, Kueue and the API server read, and the node
    changes a fault makes."""

    def __init__(
        self,
        topology: Topology,
        api: Api,
        *,
        on_admission_change: Callable[[], None] = lambda: None,
        preempt: Callable[[str], int] = lambda _cq: 0,
    ) -> None:
        self.topology = topology
        self.api = api
        self.state = FaultState()
        self._on_admission_change = on_admission_change
        self._preempt = preempt

    # read by the kubelets, Kueue and the API server
    def site_is_down(self, site: str) -> bool:
        return site in self.state.down

    def provider_failure_message(self, site: str) -> str | None:
        return self.state.provider_failure.get(site)

    def exit_code_of(self, site: str) -> int | None:
        return self.state.exit_code.get(site)

    def stalled_queues(self) -> set[str]:
        return set(self.state.stalled)

    def refusal(self, info: dict[str, Any]) -> str | None:
        """The user named in a 403 if the forbid fault refuses this request (resolved by
        :func:`.audit.request_info`), else None."""
        if not self.state.forbidden or "resource" not in info:
            return None
        plural = (
            f"{info['resource']}/{info['subresource']}" if info["subresource"] else info["resource"]
        )
        key = f"{plural}.{info['apiGroup']}" if info["apiGroup"] else plural
        refused = self.state.forbidden.get(key)
        if refused is None or (refused[0] and info["verb"] not in refused[0]):
            return None
        return refused[1]

    def _apply(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request.get("fault")
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
        on = bool(request.get("on", True))
        site: str = request.get("site") or ""  # checked below for the faults that need one
        result: dict[str, Any] = {"fault": name}
        if name in SITE_FAULTS:
            if not site:
                raise ValueError(f"fault {name} needs a site")
            self.topology.site(site)  # KeyError names the known sites
            result["site"] = site
        if not isinstance(request.get("message") or "", str):
            raise ValueError(f"{name}: message must be text, got {request['message']!r}")
        state = self.state
        if name == "site-down":
            if on:
                state.down[site] = request.get("message") or ""
            else:
                state.down.pop(site, None)
            self._nodes(site)
        elif name == "maintenance":
            (state.maintenance.add if on else state.maintenance.discard)(site)
            self._nodes(site)
        elif name == "stall-admission":
            (state.stalled.add if on else state.stalled.discard)(site)
            self._on_admission_change()
        elif name == "provider-failure":
            if on:
                state.provider_failure[site] = request.get("message") or DEFAULT_PROVIDER_ERROR
            else:
                state.provider_failure.pop(site, None)
        elif name == "exit-code":
            if on:
                state.exit_code[site] = int(_number(request, "code", name, 404, whole=True))
            else:
                state.exit_code.pop(site, None)
        elif name == "preempt":
            result["evicted"] = self._preempt(site)
        elif name == "api-latency":
            ms = _number(request, "ms", name, 0) if on else 0.0
            if ms < 0:
                raise ValueError("api-latency: ms must be >= 0")
            state.latency_ms = ms
        elif name == "api-errors":
            fraction = _number(request, "fraction", name, 0) if on else 0.0
            if not 0 <= fraction <= 1:
                raise ValueError("api-errors: fraction must be between 0 and 1")
            state.error_fraction = fraction
        elif name == "drop-watches":
            result["closed"] = self.api.store.close_watches()
        elif name == "forbid":
            resource, verbs, user = _forbid_args(request)
            if on:
                state.forbidden[resource] = (verbs, user)
            else:
                state.forbidden.pop(resource, None)
        else:
            self.reset()
        result["state"] = state.to_dict()
        return result

    def reset(self) -> None:
        """All faults off, nodes back to health."""
        touched = set(self.state.down) | self.state.maintenance
        stalled = bool(self.state.stalled)
        self.state = FaultState()
        for site in touched:
            self._nodes(site)
        if stalled:
            self._on_admission_change()

    def _nodes(self, site_name: str) -> None:
        site = self.topology.site(site_name)
        nodes = self.api.registry.get("nodes")
        down = site_name in self.state.down
        message = self.state.down.get(site_name) or ""
        for node in site.nodes:

            def apply(obj: dict) -> None:
                set_node_health(obj, virtual=site.virtual, up=not down, why=message)
                set_maintenance(obj, site, site_name in self.state.maintenance)

            self.api.modify(nodes, "", node.name, apply)
