"""Placement throughput on one core, reasons and JSON included."""

from __future__ import annotations

import time

from aiinfn_hub.placement import Placer, SiteHealth

REQUESTS = [
    {"cpu": 2, "volumes": ["pvc"]},
    {"cpu": 8, "memory": "16Gi", "walltime": "12h"},
    {"gpus": 1, "gpu_model": "T4", "local_only": True},
    {"gpus": 4, "gpu_model": "A100", "walltime": "8h"},
    {"gpus": 8},
]
HEALTH = [{}, {"leonardo": SiteHealth(ready=False, message="NotReady")}]


def _rate(fn, seconds: float = 1.0) -> float:
    count, started = 0, time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for _ in range(200):
            fn()
        count += 200
    return count / (time.perf_counter() - started)


def run() -> list[dict]:
    placer = Placer()
    parsed = [placer.parse(r) for r in REQUESTS[:4]]
    cases = [(r, h) for r in parsed for h in HEALTH]
    state = {"i": 0}

    def plan_only():
        request, health = cases[state["i"] % len(cases)]
        state["i"] += 1
        placer.plan(request, health)

    def parse_plan_json():
        data = REQUESTS[state["i"] % 4]
        state["i"] += 1
        placer.plan(placer.parse(data)).to_dict()

    planned = _rate(plan_only)
    full = _rate(parse_plan_json)
    return [
        {
            "name": "plans per second (reasons included)",
            "value": planned,
            "unit": "plans/s",
            "target": 50_000,
        },
        {
            "name": "validate + plan + JSON per second",
            "value": full,
            "unit": "plans/s",
            "baseline": planned,
            "note": "ratio against plan-only: the cost of parsing user input and serialising",
        },
    ]


if __name__ == "__main__":
    from benchmarks.__main__ import report

    report(__name__, run())
