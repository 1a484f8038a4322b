"""Run every benchmark module and print its figures, targets and ratios to a baseline.

Each ``benchmarks/bench_*.py`` exposes ``run() -> list[dict]``; a figure is a dict with
``name``, ``value``, ``unit`` and optionally ``target`` (with ``higher_is_better``),
``baseline`` (measured in the same process) and ``note``. Timing is printed, never asserted.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
from pathlib import Path


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _verdict(figure: dict) -> str:
    target = figure.get("target")
    if target is None:
        return ""
    higher = figure.get("higher_is_better", True)
    met = figure["value"] >= target if higher else figure["value"] <= target
    sign = ">=" if higher else "<="
    return f"target {sign} {_fmt(target)}: {'met' if met else 'MISSED'}"


def report(module_name: str, figures: list[dict]) -> None:
    print(f"\n== {module_name}")
    for figure in figures:
        line = f"  {figure['name']:<58} {_fmt(figure['value']):>12} {figure['unit']:<10}"
        baseline = figure.get("baseline")
        if baseline:
            ratio = figure["value"] / baseline
            times = f"x{ratio:.2f}" if ratio >= 0.01 or ratio == 0 else f"x1/{1 / ratio:,.0f}"
            line += f" baseline {_fmt(baseline)} ({times})"
        verdict = _verdict(figure)
        if verdict:
            line += f"  {verdict}"
        print(line)
        if figure.get("note"):
            print(f"      {figure['note']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("only", nargs="*", help="run only these modules, e.g. bench_placement")
    args = parser.parse_args(argv)
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if args.only:
        names = [n for n in names if n in args.only]
    for name in names:
        started = time.perf_counter()
        module = importlib.import_module(f"benchmarks.{name}")
        report(name, module.run())
        print(f"  ({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
