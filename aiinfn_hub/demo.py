"""``aiinfn-hub demo``: show the system at work.

For now it walks through the placement table: one job for each row, and an offloadable
GPU job while CINECA Leonardo is down, each with its plan and reasons.
"""

from __future__ import annotations

import argparse

from .placement import Placer, SiteHealth

#: (title, request, health overrides) for each scenario the demo prints.
SCENARIOS = (
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


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="show the placement of typical jobs",
        description="Print the placement plan, with reasons, for one job per row of the "
        "placement table and for a job whose first-choice site is down.",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    placer = Placer()
    for number, (title, data, health) in enumerate(SCENARIOS, 1):
        plan = placer.plan(placer.parse(data), health)
        print(f"{number}. {title}: {data}")
        print(plan.explain())
        print()
    return 0
