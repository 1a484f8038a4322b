"""A sandbox fault's answer as a sentence, for people at a terminal (``--json`` for scripts)."""

from __future__ import annotations

from typing import Any

from ..faultsyntax import ALL_OFF, fault_report, fault_sentence

#: What each fault does while on, worded from its request and the sandbox's answer.
_WHAT_IT_DOES = {
    "site-down": lambda r, a: "its nodes are NotReady and its pods wait",
    "maintenance": lambda r, a: "its nodes are tainted and take no new pods",
    "stall-admission": lambda r, a: "Kueue admits nothing there",
    "provider-failure": lambda r, a: (
        "remote submissions fail with ProviderFailed, "
        f'"{a["state"]["provider-failure"][r["site"]]}"'
    ),
    "exit-code": lambda r, a: (
        f"its jobs end with infrastructure exit code {a['state']['exit-code'][r['site']]}"
    ),
    "api-latency": lambda r, a: f"every Kubernetes request waits {a['state']['api-latency']:g} ms",
    "api-errors": lambda r, a: f"{a['state']['api-errors']:.0%} of Kubernetes requests answer 503",
    "forbid": lambda r, a: (
        f"RBAC refuses {r['resource']} ({', '.join(r.get('verbs') or ()) or 'every verb'}) "
        f"to {a['state']['forbid'][r['resource']]['user']}"
    ),
}
#: What a one-shot fault did.
_WHAT_IT_DID = {
    "preempt": lambda r, a: f"evicted {_count(a['evicted'], 'admitted workload')}",
    "drop-watches": lambda r, a: f"closed {_count(a['closed'], 'open watch stream')}",
}


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _still_on(state: dict[str, Any]) -> list[str]:
    """The faults on in a sandbox's fault state, written as the command takes them."""
    on: list[str] = []
    for name, value in state.items():
        if isinstance(value, list | dict) and value:
            on += [f"{name}:{site}" for site in value]
        elif isinstance(value, int | float) and value:
            on.append(f"{name}:{value:g}")
    return on


def describe_fault(request: dict[str, Any], answer: dict[str, Any]) -> str:
    """One sentence saying what the fault now does (or that it is off), then the faults on."""
    name = request["fault"]
    if name == "clear":
        return ALL_OFF
    did = _WHAT_IT_DID[name](request, answer) if name in _WHAT_IT_DID else None
    on = request.get("on") is not False and did is None
    doing = _WHAT_IT_DOES[name](request, answer) if on else None
    first = fault_sentence(name, request.get("site"), doing=doing, did=did)
    return fault_report(first, _still_on(answer.get("state") or {}))
