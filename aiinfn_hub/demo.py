"""``aiinfn-hub demo``: the whole hub on the sandbox, for a newcomer's browser.

It starts the sandbox (one-machine Kubernetes with the AI_INFN sites), JupyterHub with
configurable-http-proxy, AIInfnSpawner and the jobs service as a managed service, and a
shared-password authenticator with named demo users; prints the URL and the logins; and on
Ctrl-C stops everything it started. ``--plans`` prints placement plans instead.
"""

from __future__ import annotations

import argparse
import ipaddress
import shutil
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from .parentsignals import follow
from .placement import Placer, SiteHealth
from .sandbox import faults as sandbox_faults
from .usage import UsageError

#: (title, request, health overrides) for each scenario ``--plans`` prints.
SCENARIOS: tuple[tuple[str, dict[str, Any], dict[str, SiteHealth]], ...] = (
    ("CPU job that needs the home volume", {"cpu": 2, "volumes": ["pvc"]}, {}),
    ("CPU job that can be offloaded", {"cpu": 8, "memory": "16Gi", "walltime": "12h"}, {}),
    ("GPU job kept local", {"gpus": 1, "gpu_model": "T4", "local_only": True}, {}),
    ("GPU job that can be offloaded", {"gpus": 4, "gpu_model": "A100", "walltime": "8h"}, {}),
    (
        "GPU job that can be offloaded, while CINECA Leonardo is down",
        {"gpus": 4, "gpu_model": "A100", "walltime": "8h"},
        {
            "leonardo": SiteHealth(
                ready=False, connected=False, message="InterlinkConnectivity is False"
            )
        },
    ),
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole hub on the sandbox and print the URL to open",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Start the sandbox (a one-machine Kubernetes with the AI_INFN sites: local CPU and GPU nodes,
CINECA Leonardo and the CNAF Tier-1 as interLink virtual nodes), JupyterHub with
configurable-http-proxy, AIInfnSpawner and the jobs service, then print the URL and the demo
logins. Log in, pick a profile (CPU, a GPU model with its live free/total GPUs, or Automatic)
and get JupyterLab. Ctrl-C stops everything.

Faults (--fault, repeatable; switch more while it runs with `aiinfn-hub sandbox fault`):
  site-down:SITE          the site's nodes NotReady (interLink: connection lost)
  maintenance:SITE        the site's maintenance taint (a local site: nodes cordoned)
  stall-admission:SITE    Kueue admits nothing at the site
  provider-failure:SITE   remote submissions fail (ProviderFailed)
  exit-code:SITE[:CODE]   remote jobs end with an infrastructure exit code (default 404)
  api-latency:MS          every Kubernetes request waits MS milliseconds
  api-errors:FRACTION     a fraction of Kubernetes requests answer 503
SITE is local, leonardo or tier1 (or a site of --sites).""",
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port of the hub's URL (default: %(default)s)"
    )
    parser.add_argument(
        "--ip",
        default="127.0.0.1",
        help="address the proxy listens on (default: %(default)s); an address other "
        "machines reach, such as 0.0.0.0, needs --public",
    )
    parser.add_argument(
        "--public",
        action="store_true",
        help="let --ip be an address other machines reach, although the demo's passwords "
        "are fixed and printed: anyone who reaches it can log in and run code here",
    )
    parser.add_argument(
        "--sites",
        metavar="FILE",
        help="sites YAML replacing the built-in topology (see `aiinfn-hub sandbox config`)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="FAULT:ARG",
        help="a fault to start with, e.g. site-down:leonardo (repeatable; see the list above)",
    )
    parser.add_argument(
        "--interactive-offload",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="let the Automatic profile start GPU servers at CINECA Leonardo (the sandbox's "
        "remote pods are reachable, as with interLink's VPN) (default: on)",
    )
    parser.add_argument(
        "--state-dir",
        default=".demo",
        help="logs, the hub's database and the sandbox's files; emptied at start "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--stop-with-parent",
        action="store_true",
        help="also stop when the parent process (make) gets SIGINT or SIGTERM, or exits: "
        "`make demo` sets it, since make passes neither signal on",
    )
    parser.add_argument(
        "--plans",
        action="store_true",
        help="only print the placement plans of typical jobs (no hub)",
    )
    parser.set_defaults(func=run)


def print_plans() -> int:
    """One plan, with reasons, per row of the table and for a job whose first site is down."""
    placer = Placer()
    for number, (title, data, health) in enumerate(SCENARIOS, 1):
        plan = placer.plan(placer.parse(data), health)
        print(f"{number}. {title}: {data}")
        print(plan.explain())
        print()
    return 0


def parse_fault(text: str) -> dict[str, Any]:
    """``site-down:leonardo`` or ``api-latency:200`` as a sandbox fault request."""
    try:
        return sandbox_faults.parse_fault(text)
    except ValueError as exc:
        raise UsageError(f"--fault {exc}") from None


def is_loopback(ip: str) -> bool:
    """Whether ``ip`` (an address or a host name) reaches only this machine: every address it
    stands for is a loopback address. ``0.0.0.0`` and ``::`` are every interface."""
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        pass
    try:
        found = {str(info[4][0]) for info in socket.getaddrinfo(ip, None)}
    except (socket.gaierror, UnicodeError) as exc:
        raise UsageError(f"--ip {ip}: not an address of this machine ({exc})") from None
    return bool(found) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in found)


def exposure_warning(ip: str, public: bool) -> str | None:
    """UsageError if ``ip`` reaches beyond this machine and ``--public`` was not given; with
    it, the warning to print (None for a loopback address)."""
    if is_loopback(ip):
        return None
    if not public:
        raise UsageError(
            f"--ip {ip} would let other machines reach the demo, whose logins are fixed and "
            "printed (anyone could log in and run code on this machine); keep the default "
            "127.0.0.1, or add --public if that is what you want"
        )
    from .hubconfig import DEMO_ADMIN, DEMO_USERS

    users = ", ".join((*DEMO_USERS, DEMO_ADMIN))
    rule = "!" * 78
    return "\n".join(
        [
            rule,
            f"!! WARNING: --public: the demo listens on {ip}, reachable from other machines.",
            f"!! Its logins ({users}) have FIXED passwords, printed below and in",
            "!! this project's README: anyone who reaches this port can log in and run code",
            "!! on this machine as you. Use it only on a network you trust; Ctrl-C stops it.",
            rule,
        ]
    )


def check_port(ip: str, port: int) -> None:
    """UsageError now if the proxy could not listen on ``ip:port``, rather than a failed start
    a minute later."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the proxy binds
        try:
            sock.bind((ip, port))
        except OSError as exc:
            raise UsageError(
                f"--port {port}: cannot listen on {ip}:{port} ({exc.strerror or exc}); "
                "another program may have it: choose another port with --port"
            ) from None


def run(args: argparse.Namespace) -> int:
    if args.plans:
        return print_plans()
    from .hubconfig import CHP, DEMO_ADMIN, DEMO_ADMIN_PASSWORD, DEMO_PASSWORD, SandboxHub
    from .hubprocess import HubError, HubProcess
    from .sandbox import SandboxProcess
    from .sandbox.process import free_port

    faults = [parse_fault(f) for f in args.fault]
    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port} is not a port number")
    warning = exposure_warning(args.ip, args.public)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    check_port(args.ip, args.port)
    if args.sites and not Path(args.sites).is_file():
        raise UsageError(f"--sites {args.sites}: no such file")
    if not CHP.exists():
        raise UsageError(
            "configurable-http-proxy is not installed: run `make demo` (it runs "
            "`npm ci --prefix tools/chp`)"
        )
    state = Path(args.state_dir).resolve()
    for part in ("hub", "sandbox"):
        shutil.rmtree(state / part, ignore_errors=True)

    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    if args.stop_with_parent:
        why = follow(lambda _: stop.set())
        if why:
            print(f"aiinfn-hub demo: signals sent to the parent process alone will not stop "
                  f"the demo (following them was refused: {why}); Ctrl-C in this terminal "
                  f"does", file=sys.stderr, flush=True)  # fmt: skip
    sandbox = SandboxProcess(port=free_port(), config=args.sites, state_dir=state / "sandbox")
    hub: HubProcess | None = None
    try:
        print("starting the sandbox ...", flush=True)
        sandbox.start()
        for fault in faults:
            try:
                sandbox.admin.request("POST", "faults", fault)
            except RuntimeError as exc:
                raise UsageError(f"--fault: {exc}") from None
        print("starting JupyterHub, configurable-http-proxy and the jobs service ...", flush=True)
        hub = HubProcess(
            SandboxHub(
                kubeconfig=sandbox.kubeconfig,
                state_dir=state / "hub",
                ip=args.ip,
                port=args.port,
                hub_port=free_port(),
                proxy_api_port=free_port(),
                jobs_port=free_port(),
                spawner={"interactive_offload": args.interactive_offload},
            )
        )
        try:
            hub.start()
        except HubError as exc:
            print(f"aiinfn-hub demo: {exc}", flush=True)
            return 1
        print(banner(hub.url, sandbox, faults, args, DEMO_PASSWORD, DEMO_ADMIN,
                     DEMO_ADMIN_PASSWORD), flush=True)  # fmt: skip
        if warning:
            print(warning, file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            if not hub.running():
                print(f"JupyterHub exited; its log ends with:\n{hub.log_tail()}", flush=True)
                return 1
        return 0
    finally:
        print("\nstopping: users' servers, JupyterHub, the proxy, the jobs service, the sandbox",
              flush=True)  # fmt: skip
        if hub is not None:
            hub.stop()
        sandbox.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("stopped; nothing is left running", flush=True)


def banner(
    url: str,
    sandbox: Any,
    faults: list[dict[str, Any]],
    args: argparse.Namespace,
    password: str,
    admin: str,
    admin_password: str,
) -> str:
    from .hubconfig import DEMO_USERS

    sites = ", ".join(
        f"{s['name']} ({len(s['nodes'])} node{'s' * (len(s['nodes']) > 1)})"
        for s in sandbox.info()["sites"]
    )
    switched = ", ".join(
        f"{f['fault']}:{f.get('site') or format(f.get('ms') or f.get('fraction'), 'g')}"
        for f in faults
    )
    offload = "on" if args.interactive_offload else "off (--interactive-offload to turn on)"
    lines = [
        "",
        "aiinfn_hub demo is running.",
        "",
        f"  Open {url}/ in your browser.",
        f"  Log in as {', '.join(DEMO_USERS[:-1])} or {DEMO_USERS[-1]}, password: {password}",
        f"  (the admin page: {admin} / {admin_password})",
        "",
        "  Pick a profile: CPU, a GPU model (live free/total GPUs) or Automatic; you get",
        "  JupyterLab in a sandbox pod. Run a notebook as a background job from its panel.",
        "  Example notebooks are in ~/examples (falls-back.ipynb falls back when Tier-1 fails:",
        "  start with --fault provider-failure:tier1, or switch that fault on as shown below).",
        f"  Sites: {sites}.",
        f"  Automatic GPU servers at CINECA Leonardo: {offload}.",
        f"  Faults: {switched or 'none'}. Switch one now, e.g.:",
        f"    KUBECONFIG={sandbox.kubeconfig} {_command()} sandbox fault provider-failure:tier1",
        "  (--off ends it; site-down:leonardo, stall-admission:tier1, ...: see --help).",
        f"  Logs: {Path(args.state_dir) / 'hub' / 'jupyterhub.log'}, "
        f"{Path(args.state_dir) / 'sandbox' / 'sandbox.log'}",
        "",
        "Press Ctrl-C to stop everything.",
    ]
    return "\n".join(lines)


def _command() -> str:
    """How to call aiinfn-hub from this shell: by name if it is on PATH, else this venv's."""
    if shutil.which("aiinfn-hub"):
        return "aiinfn-hub"
    script = Path(sys.executable).parent / "aiinfn-hub"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)
