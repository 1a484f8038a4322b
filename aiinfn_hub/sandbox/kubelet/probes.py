"""Readiness probes.

Imitates the kubelet's prober (pkg/kubelet/prober): a container's ``readinessProbe``
(``httpGet``, ``tcpSocket`` or ``exec``) runs after ``initialDelaySeconds`` every
``periodSeconds``, each attempt given ``timeoutSeconds``; ``successThreshold`` successes in a row
make the container ready, ``failureThreshold`` failures unready, and the pod's status is
written at each change. Probes reach the pod at the address its processes listen on. Not
modelled: liveness and startup probes, gRPC probes.
"""

from __future__ import annotations

import asyncio
import logging
from http.client import HTTPException
from typing import TYPE_CHECKING
from urllib.request import urlopen

from ..objects import Obj

if TYPE_CHECKING:
    from .containers import ContainerRun
    from .podworker import PodWorker

log = logging.getLogger("aiinfn_hub.sandbox.kubelet")


async def readiness(worker: PodWorker, run: ContainerRun) -> None:
    """Probe the container's readiness while its process runs; its ``ready`` as the thresholds
    say, the pod's status written when it changes."""
    probe = run.spec.get("readinessProbe")
    if not probe:
        return
    await asyncio.sleep(float(probe.get("initialDelaySeconds", 0)))
    period = float(probe.get("periodSeconds", 10))
    needed_ok, needed_fail = (
        int(probe.get("successThreshold", 1)),
        int(probe.get("failureThreshold", 3)),
    )
    ok = fail = 0
    while run.process is not None:
        if await _probe(worker, probe, run):
            ok, fail = ok + 1, 0
        else:
            ok, fail = 0, fail + 1
        ready = run.ready
        if ok >= needed_ok:
            ready = True
        elif fail >= needed_fail:
            ready = False
        if ready != run.ready:
            run.ready = run.status["ready"] = ready
            worker.write()
        await asyncio.sleep(period)


async def _probe(worker: PodWorker, probe: Obj, run: ContainerRun) -> bool:
    """One attempt of a probe: True when it succeeds (an HTTP status 200 to 399, a TCP
    connection, a command exiting 0; a probe of none of these kinds)."""
    timeout = float(probe.get("timeoutSeconds", 1))
    if "httpGet" in probe:
        get = probe["httpGet"]
        port = _port(run.spec, get.get("port"))
        host = get.get("host") or worker.bind_ip
        url = f"{get.get('scheme', 'HTTP').lower()}://{host}:{port}{get.get('path', '/')}"

        def fetch() -> bool:
            try:
                with urlopen(url, timeout=timeout) as response:
                    return 200 <= response.status < 400
            except (OSError, HTTPException) as exc:  # no answer, 4xx/5xx, not HTTP
                log.debug(
                    "pod %s/%s: probe of %s failed: %s", worker.namespace, worker.name, url, exc
                )
                return False

        return await asyncio.to_thread(fetch)
    if "tcpSocket" in probe:
        port = _port(run.spec, probe["tcpSocket"].get("port"))
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(probe["tcpSocket"].get("host") or worker.bind_ip, port),
                timeout,
            )
            writer.close()
            return True
        except (OSError, asyncio.TimeoutError):
            return False
    if "exec" in probe:
        command = probe["exec"].get("command") or []
        try:
            proc = await asyncio.create_subprocess_exec(
                *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
            )
            return await asyncio.wait_for(proc.wait(), timeout) == 0
        except (OSError, asyncio.TimeoutError):
            return False
    return True


def _port(spec: Obj, port: object) -> int:
    """A probe's port: a number, or the name of one of the container's ports (0 if none)."""
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for p in spec.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    return 0
