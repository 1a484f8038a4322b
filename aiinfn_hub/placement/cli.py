"""``aiinfn-hub plan``: preview where a job would run, and why."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..usage import UsageError
from .errors import PlacementError, RequestError
from .policy import Placer
from .sites import SiteHealth

#: Request fields whose option is not ``--`` and the field's name with dashes.
_OPTION_OF_FIELD = {"volumes": "--volume", "needs_inbound_network": "--inbound-network"}


def add_request_arguments(parser: argparse.ArgumentParser) -> None:
    """The job-request options shared by every command that places a job."""
    parser.add_argument("--gpus", default=0, help="number of GPUs (default 0)")
    parser.add_argument("--gpu-model", help="GPU model, e.g. A100, T4, RTX5000")
    parser.add_argument("--cpu", help="CPU cores, e.g. 4 or 500m (default 1)")
    parser.add_argument("--memory", help="memory, e.g. 8Gi (default 2Gi)")
    parser.add_argument("--walltime", help="maximum run time, e.g. 2h or 01:30:00")
    parser.add_argument(
        "--volume",
        action="append",
        default=[],
        metavar="TYPE[:NAME]",
        help="a volume the job needs: pvc, configmap, secret or emptydir (repeatable)",
    )
    parser.add_argument(
        "--inbound-network", action="store_true", help="the job accepts inbound connections"
    )
    parser.add_argument("--local-only", action="store_true", help="keep the job on local resources")


def request_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The request fields of parsed arguments, in :meth:`JobRequest.parse` form."""
    return {
        "gpus": args.gpus,
        "gpu_model": args.gpu_model,
        "cpu": args.cpu,
        "memory": args.memory,
        "walltime": args.walltime,
        "volumes": args.volume,
        "needs_inbound_network": args.inbound_network,
        "local_only": args.local_only,
    }


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="show where a job would run and why",
        description="Print the placement plan for a job request, with the reason for each site.",
    )
    add_request_arguments(parser)
    parser.add_argument(
        "--site-down",
        action="append",
        default=[],
        metavar="NAME",
        help="treat this site as down (repeatable), to see the fallback",
    )
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    placer = Placer()
    for name in args.site_down:
        if name not in placer.sites:
            raise UsageError(
                f"--site-down: unknown site {name!r}; sites are {sorted(placer.sites)}"
            )
    health = {name: SiteHealth(ready=False, message="--site-down") for name in args.site_down}
    try:
        request = placer.parse(request_from_args(args))
        plan = placer.plan(request, health)
    except RequestError as exc:
        option = _OPTION_OF_FIELD.get(exc.field, "--" + exc.field.replace("_", "-"))
        raise UsageError(f"{option}: {exc.message}") from None
    except PlacementError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(plan.to_dict(), indent=2))
    else:
        print(plan.explain())
    return 0
