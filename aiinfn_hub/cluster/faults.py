"""Faults of the real stack, switched on a running ``aiinfn-hub cluster up``.

- ``interlink-down SITE``: the site's interLink API stops answering; its virtual node goes
  NotReady with ``InterlinkConnectivity`` False (the site keeps its jobs).
- ``refuse SITE``: the site refuses submissions; interLink fails each new pod with
  ``ProviderFailed`` and the site's message.
- ``hold SITE``: the site's batch queue holds every job (pods stay Pending remotely).
- ``exit-code SITE``: each job leaving the queue ends with an infrastructure exit code.
- ``no-quota SITE``: the site's ClusterQueue gets no quota; Kueue cannot admit there.
- ``stop-queue SITE``: the site's ClusterQueue is stopped (``stopPolicy: Hold``): Kueue
  admits nothing new there, and what it admitted runs on.
- ``drain-queue SITE``: ``stopPolicy: HoldAndDrain``: Kueue also evicts what it admitted
  there (``Evicted/ClusterQueueStopped``).
- ``apiserver-stop``: kube-apiserver stops for ``--seconds`` and starts again.
- ``kueue-restart``: the Kueue controller restarts (the answer comes once it is ready).

``--off`` (or ``clear``) undoes them.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.request import Request, urlopen

if TYPE_CHECKING:
    from .nodes import PluginPorts

from ..faultsyntax import ALL_OFF, FaultWords, fault_report, fault_sentence, one_detail

SITE_FAULTS = (
    "interlink-down",
    "refuse",
    "hold",
    "exit-code",
    "no-quota",
    "stop-queue",
    "drain-queue",
)
FAULTS = (*SITE_FAULTS, "apiserver-stop", "kueue-restart", "clear")
#: What Slurm answers a submission it refuses (the default message of ``refuse``).
REFUSAL = (
    "sbatch: error: Batch job submission failed: "
    "Invalid account or account/partition combination specified"
)


class FaultError(ValueError):
    """A fault request that cannot be applied; the message says why and what to send."""


#: The option a fault's detail (``refuse:tier1:MESSAGE``, ``exit-code:tier1:502``,
#: ``apiserver-stop:10``) goes in, and whether it is a number.
_DETAILS = {
    "refuse": ("message", str),
    "exit-code": ("code", int),
    "apiserver-stop": ("seconds", float),
}


def fault_request(
    words: FaultWords, *, off: bool = False, options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The request for a fault as written (``refuse:tier1``, ``interlink-down leonardo``,
    ``exit-code:tier1:502``, ``apiserver-stop:10``) with the command's options (``message``,
    ``code``, ``seconds``); FaultError says what is wrong."""
    name = words.name
    if name not in FAULTS:
        raise FaultError(f"unknown fault {name!r}; faults: {', '.join(FAULTS)}")
    request: dict[str, Any] = {"fault": name, "off": off}
    request.update({k: v for k, v in (options or {}).items() if v is not None})
    if name in SITE_FAULTS and not words.target:
        raise FaultError(f"name the site, e.g. {name}:leonardo")
    if name in SITE_FAULTS:
        request["site"] = words.target
        detail = words.detail
    elif name == "apiserver-stop":
        detail = words.target
    elif words.target:
        raise FaultError(f"{name} takes no site")
    else:
        detail = None
    if detail is not None and name not in _DETAILS:
        raise FaultError(f"{name} takes nothing after the site, e.g. {name}:{words.target}")
    if name in _DETAILS:
        key, kind = _DETAILS[name]
        value = one_detail(FaultWords(name, None, detail), f"--{key}", request.pop(key, None))
        try:
            request.update({} if value is None else {key: kind(value)})
        except ValueError:
            raise FaultError(
                f"{name}: the {key} is a number, e.g. {name}:{_EXAMPLES[name]}"
            ) from None
    return request


_EXAMPLES = {"exit-code": "tier1:502", "apiserver-stop": "10"}
#: What each fault does while on, from its request and the answer's record of it.
_WHAT_IT_DOES = {
    "interlink-down": lambda site, _: (
        f"{site}'s interLink API does not answer and its virtual node goes NotReady"
    ),
    "refuse": lambda site, on: f'{site} refuses new submissions, "{on.get("message") or REFUSAL}"',
    "hold": lambda site, _: f"{site}'s batch queue holds every job",
    "exit-code": lambda site, on: (
        f"jobs leaving {site}'s queue end with exit code {on.get('code') or 404}"
    ),
    "no-quota": lambda site, _: f"{site}'s ClusterQueue has no quota: Kueue admits nothing there",
    "stop-queue": lambda site, _: f"{site}'s ClusterQueue is stopped: nothing new is admitted",
    "drain-queue": lambda site, _: (
        f"{site}'s ClusterQueue is stopped and what it admitted is evicted"
    ),
    "apiserver-stop": lambda _, on: (
        f"kube-apiserver stops for {on.get('seconds', 10):g} s, then starts again"
    ),
}


def describe_fault(request: dict[str, Any], answer: dict[str, Any]) -> str:
    """One sentence saying what the fault now does (or that it is off), then the faults on."""
    name, site = request["fault"], request.get("site")
    if name == "clear":
        return ALL_OFF
    active = answer.get("faults") or {}
    if name == "kueue-restart":
        first = fault_sentence(name, None, doing=None, did="Kueue restarted and serves again")
    elif request.get("off"):
        first = fault_sentence(name, site, doing=None)
    else:
        record = active.get(f"{name}:{site}" if site else name) or {}
        first = fault_sentence(name, site, doing=_WHAT_IT_DOES[name](site, record))
    return fault_report(first, list(active))


def _plugin(admin_port: int, change: dict[str, Any]) -> dict[str, Any]:
    request = Request(
        f"http://127.0.0.1:{admin_port}/aiinfn/faults",
        data=json.dumps(change).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


class ClusterFaults:
    """Applies faults to a started :class:`~.cluster.Cluster`."""

    def __init__(self, cluster) -> None:
        self.cluster = cluster
        self.active: dict[str, Any] = {}

    def _site_ports(self, site: str | None) -> tuple[str, PluginPorts | None]:
        """The site named by a fault (checked) and its interLink plugin's ports (None if local)."""
        if not site:
            raise FaultError("this fault needs a site: leonardo, tier1, ...")
        names = [s.name for s in self.cluster.topology.sites]
        if site not in names:
            raise FaultError(f"unknown site {site!r}; sites: {', '.join(names)}")
        return site, self.cluster.plugins.get(site)

    def apply(self, request: dict[str, Any]) -> dict[str, Any]:
        fault = request.get("fault")
        site = request.get("site")
        off = bool(request.get("off"))
        if fault not in FAULTS:
            raise FaultError(f"unknown fault {fault!r}; faults: {', '.join(FAULTS)}")
        if fault == "clear":
            for key in list(self.active):
                name, _, where = key.partition(":")
                self.apply({"fault": name, "site": where or None, "off": True})
            return self.state()
        if fault == "apiserver-stop":
            seconds = float(request.get("seconds") or 10)
            self._in_background(lambda: self._stop_for("kube-apiserver", seconds))
            self.active["apiserver-stop"] = {"seconds": seconds, "since": time.time()}
            return self.state()
        if fault == "kueue-restart":  # answered once Kueue serves again
            self.cluster.supervisor.restart("kueue")
            return self.state()
        site, ports = self._site_ports(site)
        key = f"{fault}:{site}"
        if fault in ("no-quota", "stop-queue", "drain-queue"):
            self._queue(site, fault, off)
        else:
            if ports is None:
                raise FaultError(f"{site} is a local site: {fault} applies to interLink sites")
            changes: dict[str, dict[str, Any]] = {
                "interlink-down": {"api": off},
                "refuse": {"refuse": None if off else request.get("message") or REFUSAL},
                "hold": {"hold": not off},
                "exit-code": {"exit_code": None if off else int(request.get("code") or 404)},
            }
            _plugin(ports.admin, changes[fault])
        if off:
            self.active.pop(key, None)
        else:
            self.active[key] = {k: v for k, v in request.items() if k not in ("fault", "site")}
        return self.state()

    def state(self) -> dict[str, Any]:
        return {"faults": dict(self.active)}

    def _stop_for(self, name: str, seconds: float) -> None:
        supervisor = self.cluster.supervisor
        supervisor.stop(name)
        time.sleep(seconds)
        supervisor.start(supervisor.components[name])
        self.active.pop("apiserver-stop", None)

    @staticmethod
    def _in_background(action) -> None:
        threading.Thread(target=action, daemon=True).start()

    def _queue(self, site: str, fault: str, off: bool) -> None:
        """The site's ClusterQueue as helm-values/kueue.yaml has it, changed by ``fault``
        unless ``off`` (server-side apply: the values' object comes back whole)."""
        from .cluster import helm_documents

        queue = next(
            (
                d
                for d in helm_documents("kueue.yaml")
                if d["kind"] == "ClusterQueue" and d["metadata"]["name"] == site
            ),
            None,
        )
        if queue is None:
            raise FaultError(f"helm-values/kueue.yaml has no ClusterQueue {site!r}")
        queue = copy.deepcopy(queue)
        if not off and fault == "no-quota":
            for group in queue["spec"].get("resourceGroups") or ():
                for flavor in group.get("flavors") or ():
                    for resource in flavor.get("resources") or ():
                        resource["nominalQuota"] = 0
        elif not off:
            queue["spec"]["stopPolicy"] = "Hold" if fault == "stop-queue" else "HoldAndDrain"
        else:
            queue["spec"]["stopPolicy"] = "None"
        self.cluster.plane.admin().apply(queue)
