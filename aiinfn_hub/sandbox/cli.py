"""``aiinfn-hub sandbox``: start the sandbox, switch its faults, reset it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..faultsyntax import read_fault
from .faults import FAULTS, fault_request
from .faultwords import describe_fault

if TYPE_CHECKING:
    from .process import AdminClient
    from .sandbox import Sandbox

DEFAULT_DIR = Path(".sandbox")


def _usage_error(message: str) -> Exception:
    from aiinfn_hub.cli import UsageError

    return UsageError(message)


def add_commands(parser: argparse.ArgumentParser) -> None:
    """The sandbox's sub-subcommands on ``parser``."""
    sub = parser.add_subparsers(dest="sandbox_command", metavar="ACTION")
    up = sub.add_parser("up", help="start the sandbox and serve until interrupted")
    up.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    up.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    up.add_argument(
        "--kubeconfig",
        default=str(DEFAULT_DIR / "kubeconfig"),
        help="where to write the kubeconfig (default: %(default)s)",
    )
    up.add_argument("--config", help="sites YAML replacing the built-in AI_INFN topology")
    up.add_argument(
        "--state-dir",
        default=str(DEFAULT_DIR / "state"),
        help="pod directories and logs (default: %(default)s)",
    )
    up.add_argument(
        "--exit-with-parent", action="store_true", help="stop when the parent process exits"
    )
    up.add_argument(
        "--without-kueue",
        action="store_true",
        help="a cluster where Kueue is not installed: no kueue.x-k8s.io API, nothing admitted",
    )
    up.add_argument("-v", "--verbose", action="store_true", help="log controller activity")
    up.set_defaults(func=cmd_up)

    fault = sub.add_parser(
        "fault",
        help="switch a fault on a running sandbox",
        description="Faults: " + ", ".join(FAULTS) + ". Write a site fault as NAME:SITE "
        "(provider-failure:tier1, exit-code:tier1:502, site-down:leonardo:MESSAGE) or "
        "NAME SITE, and a number as api-latency:200.",
    )
    fault.add_argument("fault", metavar="FAULT", help="e.g. provider-failure:tier1")
    fault.add_argument("site", nargs="?", help=argparse.SUPPRESS)
    fault.add_argument("--off", action="store_true", help="switch the fault off")
    fault.add_argument("--message", help="site-down / provider-failure: the message shown")
    fault.add_argument(
        "--code", type=int, help="exit-code: the infrastructure exit code (default 404)"
    )
    fault.add_argument("--ms", type=float, help="api-latency: milliseconds per request")
    fault.add_argument(
        "--fraction", type=float, help="api-errors: fraction of requests answering 503"
    )
    fault.add_argument("--resource", help="forbid: e.g. jobs.batch, pods/log")
    fault.add_argument(
        "--verb", action="append", dest="verbs", help="forbid: a verb refused (default: all)"
    )
    fault.add_argument("--user", help="forbid: who the 403 names (default: aiinfn-sandbox)")
    fault.add_argument(
        "--json", action="store_true", help="print the sandbox's answer as JSON (for scripts)"
    )
    _kubeconfig_arg(fault)
    fault.set_defaults(func=cmd_fault)

    reset = sub.add_parser("reset", help="delete every object and clear faults")
    _kubeconfig_arg(reset)
    reset.set_defaults(func=cmd_reset)

    status = sub.add_parser("status", help="print the sandbox's sites and faults as JSON")
    _kubeconfig_arg(status)
    status.set_defaults(func=cmd_status)

    config = sub.add_parser("config", help="print the built-in sites YAML")
    config.set_defaults(func=cmd_config)

    def usage(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=usage)


def _kubeconfig_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kubeconfig",
        default=os.environ.get("KUBECONFIG") or str(DEFAULT_DIR / "kubeconfig"),
        help="the sandbox's kubeconfig (default: $KUBECONFIG or %(default)s)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sandbox", help="a one-machine Kubernetes with Kueue and interLink-style sites"
    )
    add_commands(parser)


# -- up ------------------------------------------------------------------------------------------


def cmd_up(args: argparse.Namespace) -> int:
    from .sandbox import Sandbox
    from .topology import TopologyError, load_topology

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        topology = load_topology(args.config)
    except TopologyError as exc:
        raise _usage_error(str(exc)) from exc
    if not 0 <= args.port <= 65535:
        raise _usage_error(f"--port {args.port} is not a port number")
    sandbox = Sandbox(
        topology,
        port=args.port,
        state_dir=args.state_dir,
        host=args.host,
        kueue=not args.without_kueue,
    )
    try:
        return asyncio.run(_serve(sandbox, Path(args.kubeconfig), args.exit_with_parent))
    except OSError as exc:
        raise _usage_error(f"cannot serve on port {args.port}: {exc.strerror or exc}") from exc


async def _serve(sandbox: Sandbox, kubeconfig: Path, exit_with_parent: bool) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await sandbox.start()
    path = sandbox.write_kubeconfig(kubeconfig)
    print(f"sandbox: serving the Kubernetes API on {sandbox.url}", flush=True)
    print(f"sandbox: kubeconfig written to {path} (export KUBECONFIG={path})", flush=True)
    watcher = loop.create_task(_watch_parent(stop)) if exit_with_parent else None
    try:
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        print("sandbox: stopping pods and exiting", flush=True)
        await sandbox.stop()
        with contextlib.suppress(OSError):
            path.unlink()
    return 0


async def _watch_parent(stop: asyncio.Event) -> None:
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(0.5)
    stop.set()


# -- commands on a running sandbox ---------------------------------------------------------------


def _client(args: argparse.Namespace) -> AdminClient:
    from .kubeconfig import read_kubeconfig
    from .process import AdminClient

    try:
        url, token = read_kubeconfig(args.kubeconfig)
    except ValueError as exc:
        raise _usage_error(str(exc)) from exc
    return AdminClient(url, token)


def _call(args: argparse.Namespace, method: str, path: str, body: dict | None = None) -> dict:
    from urllib.error import URLError

    try:
        return _client(args).request(method, path, body)
    except (URLError, OSError) as exc:
        raise _usage_error(f"no sandbox answers at the kubeconfig's server: {exc}") from exc
    except RuntimeError as exc:
        raise _usage_error(str(exc)) from exc


def _print_json(result: dict) -> int:
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


def cmd_fault(args: argparse.Namespace) -> int:
    options = {
        field: getattr(args, field)
        for field in ("message", "code", "ms", "fraction", "resource", "verbs", "user")
    }
    try:
        words = read_fault(args.fault, args.site)
        body = fault_request(words, off=args.off, options=options)
    except ValueError as exc:
        raise _usage_error(f"{' '.join(filter(None, (args.fault, args.site)))}: {exc}") from None
    if words.name == "clear":
        result = _call(args, "DELETE", "faults")
    else:
        result = _call(args, "POST", "faults", body)
    if args.json:
        return _print_json(result)
    print(describe_fault(body, result))
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    return _print_json(_call(args, "POST", "reset"))


def cmd_status(args: argparse.Namespace) -> int:
    return _print_json(_call(args, "GET", "info"))


def cmd_config(_args: argparse.Namespace) -> int:
    from .topology import default_config_text

    print(default_config_text(), end="")
    return 0
