"""``aiinfn-hub cluster``: build the real control plane, start it, switch its faults."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from ..faultsyntax import read_fault
from .faults import FAULTS, describe_fault, fault_request

DEFAULT_DIR = Path(".cluster")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cluster",
        help="a real Kubernetes control plane (built from Go modules) on this machine",
        description="Build and run kube-apiserver, controller-manager, scheduler, etcd, Kueue "
        "and interLink virtual kubelets on this machine.",
    )
    sub = parser.add_subparsers(dest="cluster_command", metavar="ACTION")
    build = sub.add_parser("build", help="build the binaries into the cache (once)")
    build.set_defaults(func=cmd_build)

    up = sub.add_parser("up", help="start the control plane and serve until interrupted")
    up.add_argument(
        "--state-dir",
        default=str(DEFAULT_DIR),
        help="certificates, data and logs (default: %(default)s)",
    )
    up.add_argument(
        "--kubeconfig", help="where to write the admin kubeconfig (default: STATE_DIR/kubeconfig)"
    )
    up.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="FAULT[:SITE]",
        help="switch a fault on at start",
    )
    up.set_defaults(func=cmd_up)

    fault = sub.add_parser(
        "fault",
        help="switch a fault on a running cluster",
        description="Faults: " + ", ".join(FAULTS) + ". Write a site fault as NAME:SITE "
        "(refuse:tier1, exit-code:tier1:502, refuse:tier1:MESSAGE) or NAME SITE.",
    )
    fault.add_argument("fault", metavar="FAULT", help="e.g. interlink-down:leonardo")
    fault.add_argument("site", nargs="?", help=argparse.SUPPRESS)
    fault.add_argument("--off", action="store_true", help="switch the fault off")
    fault.add_argument("--message", help="refuse: the site's error message")
    fault.add_argument("--code", type=int, help="exit-code: the exit code (default 404)")
    fault.add_argument("--seconds", type=float, help="apiserver-stop: for how long (default 10)")
    fault.add_argument(
        "--state-dir", default=str(DEFAULT_DIR), help="the running cluster's state folder"
    )
    fault.add_argument(
        "--json", action="store_true", help="print the faults on as JSON (for scripts)"
    )
    fault.set_defaults(func=cmd_fault)

    run = sub.add_parser(
        "run",
        help="start the control plane, run a command against it, stop it",
        description="Start the control plane, run COMMAND with KUBECONFIG (and "
        "AIINFN_CONTRACT_KUBECONFIG, AIINFN_CLUSTER_STATE_DIR) pointing at it, stop "
        "everything, and exit with COMMAND's exit code.",
    )
    run.add_argument("--state-dir", default=str(DEFAULT_DIR / "run"), help="(default: %(default)s)")
    run.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    run.set_defaults(func=cmd_run)

    status = sub.add_parser("status", help="print what runs, as JSON")
    status.add_argument("--state-dir", default=str(DEFAULT_DIR))
    status.set_defaults(func=cmd_status)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _usage_error(message: str) -> Exception:
    from aiinfn_hub.cli import UsageError

    return UsageError(message)


def cmd_build(args: argparse.Namespace) -> int:
    from .build import BuildError, build

    try:
        build()
    except BuildError as exc:
        print(f"aiinfn-hub cluster build: {exc}", file=sys.stderr)
        return 1
    return 0


def _parse_fault(text: str) -> dict[str, Any]:
    """``refuse:tier1`` (``--fault`` of ``up``) as a fault request."""
    try:
        return fault_request(read_fault(text))
    except ValueError as exc:
        raise _usage_error(f"--fault {text}: {exc}") from None


def _start(state_dir: Path, kubeconfig: Path | None, faults: list[dict[str, Any]]):
    """The started cluster and its fault switches, or an error line and exit code."""
    from .cluster import Cluster, ClusterError
    from .faults import ClusterFaults, FaultError
    from .supervisor import StartError

    try:
        cluster = Cluster(state_dir, kubeconfig=kubeconfig)
        print(f"starting the control plane in {state_dir}", flush=True)
        cluster.up()
    except (ClusterError, StartError, PermissionError, TimeoutError) as exc:
        print(f"aiinfn-hub cluster: {exc}", file=sys.stderr)
        return None, 1
    switches = ClusterFaults(cluster)
    try:
        for request in faults:
            switches.apply(request)
    except FaultError as exc:
        cluster.down()
        print(f"aiinfn-hub cluster: {exc}", file=sys.stderr)
        return None, 2
    return (cluster, switches), 0


def cmd_up(args: argparse.Namespace) -> int:
    faults = [_parse_fault(f) for f in args.fault]
    kubeconfig = Path(args.kubeconfig).resolve() if args.kubeconfig else None
    started, code = _start(Path(args.state_dir).resolve(), kubeconfig, faults)
    if started is None:
        return code
    return asyncio.run(_serve(*started, command=None))


def cmd_run(args: argparse.Namespace) -> int:
    command = [c for c in args.command if c != "--"] if args.command else []
    if not command:
        raise _usage_error("give the command to run after --, e.g. -- pytest -m contract")
    started, code = _start(Path(args.state_dir).resolve(), None, [])
    if started is None:
        return code
    return asyncio.run(_serve(*started, command=command))


async def _serve(cluster, switches, *, command: list[str] | None) -> int:
    """Serve the fault endpoint until interrupted (or until ``command`` ends), then stop."""
    from tornado import web

    from ..sandbox.process import free_port
    from .cluster import ClusterState

    token = secrets.token_urlsafe(24)

    class FaultsHandler(web.RequestHandler):
        def prepare(self) -> None:
            if self.request.headers.get("Authorization") != f"Bearer {token}":
                raise web.HTTPError(401)

        def get(self) -> None:
            self.finish(switches.state())

        def post(self) -> None:
            from .faults import FaultError

            try:
                self.finish(switches.apply(json.loads(self.request.body or b"{}")))
            except (FaultError, ValueError) as exc:
                self.set_status(400)
                self.finish({"message": str(exc)})

    port = free_port()
    server = web.Application([(r"/faults", FaultsHandler)]).listen(port, "127.0.0.1")
    plane = cluster.plane
    ClusterState(
        pid=os.getpid(),
        server=plane.server,
        kubeconfig=str(cluster.kubeconfig_path),
        admin_url=f"http://127.0.0.1:{port}",
        token=token,
        ports=vars(plane.ports),
        plugins={name: vars(p) for name, p in cluster.plugins.items()},
    ).write(cluster.state_dir)
    version = plane.admin().version()
    print(f"kubeconfig written to {cluster.kubeconfig_path}")
    print(f"the hub's service account (jhub/hub): {cluster.hub_kubeconfig_path}")
    print(f"Kubernetes {version} at {plane.server}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    child = None
    if command is None:
        print(f"try: kubectl --kubeconfig {cluster.kubeconfig_path} get nodes")
        print("faults: aiinfn-hub cluster fault FAULT [SITE] [--off]; Ctrl-C stops everything")
    else:
        env = {
            **os.environ,
            "KUBECONFIG": str(cluster.kubeconfig_path),
            "AIINFN_CONTRACT_KUBECONFIG": str(cluster.kubeconfig_path),
            "AIINFN_CLUSTER_STATE_DIR": str(cluster.state_dir),
            "AIINFN_CLUSTER_HUB_KUBECONFIG": str(cluster.hub_kubeconfig_path),
        }
        child = await asyncio.create_subprocess_exec(*command, env=env)
        loop.create_task(child.wait()).add_done_callback(lambda _t: stop.set())
    sys.stdout.flush()
    restarts: dict[str, int] = {}
    reviving: set[str] = set()

    def revive(name: str, delay: float) -> None:
        time.sleep(delay)
        try:
            cluster.supervisor.restart(name)
            print(f"{name} restarted", flush=True)
        except Exception as exc:  # any start failure: reported, and tried again on the next pass
            print(f"{name} did not restart: {exc}", flush=True)
        finally:
            reviving.discard(name)

    while not stop.is_set():
        # a component that exits is started again with a growing delay, as its kubelet
        # would restart a static pod or a Deployment's container
        for name, code in cluster.supervisor.exited():
            if name not in reviving:
                reviving.add(name)
                restarts[name] = restarts.get(name, 0) + 1
                delay = min(2.0 ** (restarts[name] - 1), 30.0)
                log = cluster.supervisor.log_path(name)
                print(f"{name} exited with code {code} (log {log}); restarting in {delay:.0f} s")
                loop.run_in_executor(None, revive, name, delay)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
    server.stop()
    if child is not None and child.returncode is None:
        child.terminate()
        await child.wait()
    print("stopping the control plane", flush=True)
    await loop.run_in_executor(None, cluster.down)
    return (child.returncode or 0) if child is not None else 0


def _running(state_dir: Path):
    from .cluster import ClusterState

    state = ClusterState.read(state_dir)
    if state is None or not state.alive:
        raise _usage_error(
            f"no cluster runs from {state_dir}: start one with `aiinfn-hub cluster up`"
        )
    return state


def cmd_fault(args: argparse.Namespace) -> int:
    try:
        body = fault_request(
            read_fault(args.fault, args.site),
            off=args.off,
            options={"message": args.message, "code": args.code, "seconds": args.seconds},
        )
    except ValueError as exc:
        raise _usage_error(f"{' '.join(filter(None, (args.fault, args.site)))}: {exc}") from None
    state = _running(Path(args.state_dir).resolve())
    request = Request(
        f"{state.admin_url}/faults",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {state.token}", "Content-Type": "application/json"},
    )
    try:
        with urlopen(request, timeout=60) as answer:
            result = json.loads(answer.read())
    except HTTPError as exc:
        message = json.loads(exc.read() or b"{}").get("message", str(exc))
        raise _usage_error(message) from None
    except URLError as exc:
        raise _usage_error(f"the cluster's admin endpoint does not answer ({exc.reason})") from None
    print(json.dumps(result, indent=1) if args.json else describe_fault(body, result))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    state = _running(Path(args.state_dir).resolve())
    print(json.dumps(vars(state) | {"token": "***"}, indent=1))
    return 0
