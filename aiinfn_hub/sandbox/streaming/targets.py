"""What an exec or port-forward request reaches: the kubelet's checks, the options it reads.

The answers before any upgrade are a kubelet's: an unknown pod is a 404 "pod does not
exist", a container that does not run a 500 ``container not found ("NAME")``, a request
without stdin, stdout or stderr a 400. A pod on an interLink virtual node is refused the way
interLink's virtual kubelet refuses it, once the stream is up (interLink issue 186).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..kubelet import Kubelet, ProcessContext
from ..objects import Obj

#: interLink's virtual kubelet offers no exec, attach or port-forward; our Go virtual
#: kubelet (aiinfn_hub/cluster/go/interlink/provider.go) refuses them in these words.
INTERLINK_REFUSAL = (
    "interLink virtual nodes do not support exec, attach or port-forward (interLink issue 186)"
)

Query = Callable[[str], list[str]]


class Refused(Exception):
    """The answer to a request that is not upgraded: an HTTP code and its body, a
    ``metav1.Status`` (from the API server) or plain words (from the kubelet)."""

    def __init__(self, code: int, body: Mapping[str, Any] | str) -> None:
        super().__init__(body if isinstance(body, str) else body.get("message", ""))
        self.code = code
        self.body = body


def go_bool(values: list[str]) -> bool:
    """A boolean query parameter as the API server decodes it: absent, "0" or "false" is
    false, anything else (even empty) true."""
    return bool(values) and values[0] != "0" and values[0].lower() != "false"


@dataclass(frozen=True)
class ExecOptions:
    """What to run and which standard streams the client attached."""

    command: list[str]
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool

    @classmethod
    def from_api(cls, query: Query) -> ExecOptions:
        """From ``pods/exec``'s query (PodExecOptions: stdin, stdout, stderr, tty)."""
        return cls(
            list(query("command")),
            go_bool(query("stdin")),
            go_bool(query("stdout")),
            go_bool(query("stderr")),
            go_bool(query("tty")),
        ).checked()

    @classmethod
    def from_kubelet(cls, query: Query) -> ExecOptions:
        """From the kubelet API's query (input, output, error, tty: "1" when set)."""
        flags = [(query(name) or [""])[0] == "1" for name in ("input", "output", "error", "tty")]
        return cls(list(query("command")), *flags).checked()

    def checked(self) -> ExecOptions:
        """As the kubelet reads them: a terminal has no separate stderr, and some stream
        must be attached."""
        options = self
        if self.tty and self.stderr:
            options = ExecOptions(self.command, self.stdin, self.stdout, False, True)
        if not (options.stdin or options.stdout or options.stderr):
            raise Refused(400, "you must specify at least 1 of stdin, stdout, stderr")
        return options


def api_ports(query: Query) -> list[int]:
    """PodPortForwardOptions' ``ports`` (the older WebSocket port-forward names them)."""
    ports = []
    for value in query("ports"):
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise Refused(400, f'unable to parse "{value}" as a port')
        ports.append(int(value))
    return ports


def kubelet_ports(query: Query) -> list[int]:
    """The kubelet's ``port`` parameters (each may list several, comma-separated)."""
    ports = []
    for value in query("port"):
        if not value:
            raise Refused(400, 'query parameter "port" cannot be empty')
        for part in value.split(","):
            if not part.isdigit() or int(part) > 65535:
                raise Refused(400, f'unable to parse "{value}" as a port')
            if int(part) < 1:
                raise Refused(400, f'port "{value}" must be > 0')
            ports.append(int(part))
    return ports


@dataclass
class ExecTarget:
    """A container to exec in, or why its node refuses once the stream is up."""

    refusal: str | None = None
    context: ProcessContext | None = None
    running: Callable[[], bool] = lambda: False


@dataclass
class ForwardTarget:
    """A pod to forward ports to, as the kubelet names it in its errors."""

    name: str
    refusal: str | None = None
    address: Callable[[], str] = lambda: ""


@dataclass
class ExecPlan:
    """An exec request, checked: its options, its container, its audit entry (if any)."""

    options: ExecOptions
    target: ExecTarget
    audit: dict[str, Any] | None = None


@dataclass
class ForwardPlan:
    """A port-forward request, checked: the ports it names (older protocol), its pod."""

    ports: list[int]
    target: ForwardTarget
    audit: dict[str, Any] | None = None


def _virtual(kubelet: Kubelet, pod: Obj) -> bool:
    site = kubelet.sites.get((pod.get("spec") or {}).get("nodeName", ""))
    return site is not None and site.virtual


def exec_target(kubelet: Kubelet, pod: Obj | None, container: str) -> ExecTarget:
    """The kubelet's view of an exec into ``container`` of ``pod``."""
    if pod is None:
        raise Refused(404, "pod does not exist")
    if _virtual(kubelet, pod):
        return ExecTarget(refusal=INTERLINK_REFUSAL)
    worker = kubelet.worker_for(pod)
    run = worker.containers.get(container) if worker is not None else None
    if worker is None or run is None or run.process is None or run.context is None:
        raise Refused(500, f'container not found ("{container}")')
    return ExecTarget(context=run.context, running=lambda: worker.container_running(container))


def forward_target(kubelet: Kubelet, pod: Obj | None, uid: str = "") -> ForwardTarget:
    """The kubelet's view of a port-forward to ``pod`` (``uid``: the one the path names)."""
    if pod is None:
        raise Refused(404, "pod does not exist")
    if uid and pod["metadata"]["uid"] != uid:
        raise Refused(404, "pod not found")
    name = pod["metadata"]["name"]
    if _virtual(kubelet, pod):
        return ForwardTarget(name, refusal=INTERLINK_REFUSAL)
    worker = kubelet.worker_for(pod)
    if worker is None:
        raise Refused(404, "pod does not exist")
    return ForwardTarget(name, address=lambda: worker.ip)
