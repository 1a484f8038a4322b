"""How the cluster reaches a pod on an interLink virtual node, as interLink's virtual kubelet
decides it.

The pod runs on a remote machine (a Slurm or HTCondor worker), outside the cluster's network.
interLink makes it reachable only when asked:

- ``interlink.eu/pod-vpn`` on the pod: the virtual kubelet gives the pod an address of the
  node's pod range and joins it to the cluster's network through its VPN;
- a virtual node whose interLink has ``Network.EnableTunnel`` (the site's ``tunnel`` setting
  here), for a pod that exposes ports (container ports, or ``interlink.eu/wstunnel-extra-ports``)
  and has no VPN annotation: a wstunnel pod in the cluster forwards those ports, and its
  address becomes the pod's.

Otherwise the virtual kubelet reports ``127.0.0.1`` as the pod's address, which from any other
pod is that pod's own loopback: nothing in the cluster can connect to the remote process.

In the sandbox every pod is a local process. An unconnected remote pod's processes run in a
network namespace of their own where the machine allows it (as root, or in a user namespace:
:func:`~.runtime.network_isolation`), so nothing can connect to them; their listen address
(``JUPYTERHUB_SERVICE_URL``, ``POD_IP``) is the remote machine's, one of ``127.255.0.0/16``
where the kubelet never puts pods, written in no API object (all that is left of the
isolation where namespaces are not allowed).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from enum import Enum
from typing import Any

POD_VPN = "interlink.eu/pod-vpn"
EXTRA_PORTS = "interlink.eu/wstunnel-extra-ports"
#: What interLink's virtual kubelet writes as the address of a pod it does not connect.
UNREACHABLE_POD_IP = "127.0.0.1"


class Reach(str, Enum):
    """How the cluster reaches a remote pod."""

    VPN = "vpn"
    TUNNEL = "tunnel"
    NONE = "none"


def reach(pod: Mapping[str, Any], *, tunnel: bool) -> Reach:
    """interLink's rule: the VPN when the pod asks for it (the annotation's presence, whatever
    its value); else the tunnel when the node has it and the pod exposes ports; else none."""
    meta = pod.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    if POD_VPN in annotations:
        return Reach.VPN
    ports = any(c.get("ports") for c in (pod.get("spec") or {}).get("containers") or ())
    if tunnel and (ports or (annotations.get(EXTRA_PORTS) or "").strip()):
        return Reach.TUNNEL
    return Reach.NONE


class RemoteHosts:
    """Addresses of the remote machines that run unconnected pods: 127.255.0.1, 127.255.0.2,
    ... (outside the kubelet's pod addresses, 127.1.0.1 to 127.254.255.254)."""

    def __init__(self) -> None:
        self._next = itertools.count()

    def allocate(self) -> str:
        n = next(self._next) % (256 * 254)
        return f"127.255.{n // 254}.{n % 254 + 1}"
