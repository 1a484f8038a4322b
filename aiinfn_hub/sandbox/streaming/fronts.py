"""Where exec and port-forward requests come in: the sandbox's API server (``pods/exec``,
``pods/portforward``) and a node agent's kubelet API (``/exec``, ``/portForward``).

The API server checks what a real one checks before it hands a request to the node (the
audit trail, the token and the API's faults as for every path, then the pod, the container
and the node it is bound to) and reads PodExecOptions; the kubelet API reads the kubelet's
query. Both then ask the same kubelet (:mod:`.targets`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from tornado.web import RequestHandler
from tornado.websocket import WebSocketHandler

from .. import errors
from ..api import Api
from ..errors import ApiError
from ..kubelet import Kubelet
from ..objects import Obj
from .targets import (
    ExecOptions,
    ExecPlan,
    ForwardPlan,
    Query,
    Refused,
    api_ports,
    exec_target,
    forward_target,
    kubelet_ports,
)

Plan = TypeVar("Plan", ExecPlan, ForwardPlan)


def pod_container(pod: Obj, container: str) -> str:
    """The container a request for ``pod`` means, as the API server reads it: the one
    named (which must exist), or the pod's only container."""
    spec = pod.get("spec") or {}
    name = pod["metadata"]["name"]
    kinds = ("initContainers", "containers", "ephemeralContainers")
    every = [c["name"] for kind in kinds for c in spec.get(kind) or ()]
    if container:
        if container not in every:
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        return container
    regular = spec.get("containers") or []
    if len(regular) == 1:
        return regular[0]["name"]
    if not regular:
        raise errors.bad_request(f"a container name must be specified for pod {name}")
    raise errors.bad_request(
        f"a container name must be specified for pod {name}, choose one of: [{' '.join(every)}]"
    )


def _query(handler: RequestHandler) -> Query:
    return lambda name: handler.get_query_arguments(name)


class _Live:
    """The open streams of a front, so that whoever stops it can end them."""

    def __init__(self) -> None:
        self.live: set[WebSocketHandler] = set()

    def close_all(self) -> None:
        for handler in list(self.live):
            handler.close(1001, "the server is going away")
        self.live.clear()


class Gate(Protocol):
    """The sandbox's API server, as far as streams need it."""

    api: Api

    async def admit(self, method: str, path: str, handler: RequestHandler) -> dict[str, Any]: ...


class ApiFront(_Live):
    """``/api/v1/namespaces/NS/pods/NAME/{exec,portforward}`` on the sandbox's API server."""

    speaker = "the sandbox"

    def __init__(self, gate: Gate, kubelet: Kubelet) -> None:
        super().__init__()
        self.gate = gate
        self.kubelet = kubelet
        self.pods = gate.api.registry.get("pods")

    async def _checked(
        self,
        handler: RequestHandler,
        args: tuple[str, ...],
        sub: str,
        then: Callable[[Obj, dict[str, Any]], Plan],
    ) -> Plan:
        """The API server's checks, then ``then(pod, audit entry)``; a refusal's code goes
        to the audit trail."""
        namespace, name = args[0], args[1]
        path = f"/api/v1/namespaces/{namespace}/pods/{name}/{sub}"
        audit: dict[str, Any] = {}
        try:
            audit = await self.gate.admit(handler.request.method or "GET", path, handler)
            pod = self.gate.api.get(self.pods, namespace, name)
            if not (pod.get("spec") or {}).get("nodeName"):
                raise errors.bad_request(f"pod {name} does not have a host assigned")
            return then(pod, audit)
        except ApiError as exc:
            audit["code"] = exc.code
            raise Refused(exc.code, exc.status()) from exc
        except Refused as exc:
            audit["code"] = exc.code
            raise

    async def exec_request(self, handler: RequestHandler, args: tuple[str, ...]) -> ExecPlan:
        def plan(pod: Obj, audit: dict[str, Any]) -> ExecPlan:
            container = pod_container(pod, handler.get_query_argument("container", "") or "")
            options = ExecOptions.from_api(_query(handler))
            return ExecPlan(options, exec_target(self.kubelet, pod, container), audit)

        return await self._checked(handler, args, "exec", plan)

    async def forward_request(self, handler: RequestHandler, args: tuple[str, ...]) -> ForwardPlan:
        def plan(pod: Obj, audit: dict[str, Any]) -> ForwardPlan:
            return ForwardPlan(api_ports(_query(handler)), forward_target(self.kubelet, pod), audit)

        return await self._checked(handler, args, "portforward", plan)


class KubeletFront(_Live):
    """``/exec/NS/POD[/UID]/CONTAINER`` and ``/portForward/NS/POD[/UID]`` on a node agent."""

    speaker = "the node agent"

    def __init__(self, api: Api, kubelet: Kubelet) -> None:
        super().__init__()
        self.api = api
        self.kubelet = kubelet

    def _pod(self, namespace: str, name: str) -> Obj | None:
        return self.api.find(self.kubelet.pods, namespace, name)

    async def exec_request(self, handler: RequestHandler, args: tuple[str, ...]) -> ExecPlan:
        options = ExecOptions.from_kubelet(_query(handler))
        namespace, name, container = args[0], args[1], args[-1]
        return ExecPlan(options, exec_target(self.kubelet, self._pod(namespace, name), container))

    async def forward_request(self, handler: RequestHandler, args: tuple[str, ...]) -> ForwardPlan:
        ports = kubelet_ports(_query(handler))
        uid = args[2] if len(args) > 2 and args[2] else ""
        return ForwardPlan(ports, forward_target(self.kubelet, self._pod(args[0], args[1]), uid))
