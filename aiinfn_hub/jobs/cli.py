"""``aiinfn-jobs``: submit and follow background jobs from a terminal."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from . import client
from .client import JobsClientError


def _table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) for row in rows]
    return "\n".join(out)


def _resources(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gpus", type=int, help="number of GPUs")
    parser.add_argument("--gpu-model", help="GPU model, e.g. A100")
    parser.add_argument("--cpu", help="CPU cores, e.g. 4 or 500m")
    parser.add_argument("--memory", help="memory, e.g. 8Gi")
    parser.add_argument("--walltime", help="maximum run time, e.g. 2h")
    parser.add_argument("--completions", type=int, help="array job: number of tasks")
    parser.add_argument("--parallelism", type=int, help="array job: tasks at once")
    parser.add_argument("--volume", action="append", help="volume the job needs (pvc, ...)")
    parser.add_argument("--local-only", action="store_true", help="keep it on local resources")
    parser.add_argument("--site", help="run only at this site (leonardo, tier1, local)")
    parser.add_argument("--name", help="a name for the job")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="K=V",
        help="notebook parameter (JSON value)",
    )


def _options(args: argparse.Namespace) -> dict[str, Any]:
    parameters = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep:
            raise JobsClientError(400, f"--param {item!r}: write it as NAME=VALUE")
        try:
            parameters[key] = json.loads(value)
        except ValueError:
            parameters[key] = value
    return {
        "gpus": args.gpus,
        "gpu_model": args.gpu_model,
        "cpu": args.cpu,
        "memory": args.memory,
        "walltime": args.walltime,
        "completions": args.completions,
        "parallelism": args.parallelism,
        "volumes": args.volume,
        "local_only": args.local_only,
        "site": args.site,
        "name": args.name,
        "parameters": parameters or None,
    }


def _target(args: argparse.Namespace) -> dict[str, Any]:
    words = list(args.target)
    if words and words[0] == "--":
        words = words[1:]
    if not words:
        raise JobsClientError(400, "give a FILE to run, or -- COMMAND ARGS...")
    if args.command_mode or len(words) > 1 or not words[0].endswith((".ipynb", ".py", ".sh")):
        return {"command": words}
    return {"target": words[0]}


def _summary(job: dict[str, Any]) -> str:
    text = f"{job['id']}  {job['name']}  {job['state']}"
    if job.get("site_display"):
        text += f" at {job['site_display']}"
    if job.get("fallback"):
        text += f"  ({job['fallback']})"
    return text


def show(job: dict[str, Any]) -> str:
    lines = [_summary(job), f"  {job['reason']}", "", "plan:"]
    for number, site in enumerate(job["plan"].get("sites", []), 1):
        lines.append(f"  {number}. {site.get('display_name', site['name'])}: {site['reason']}")
    for site in job["plan"].get("ruled_out", []):
        lines.append(f"  x  {site.get('display_name', site['name'])}: {site['reason']}")
    rows = [
        (
            a["number"],
            a["site_display"],
            a.get("started") or "",
            a.get("ended") or "",
            a.get("outcome") or "in progress",
            a["reason"],
        )
        for a in job["attempts"]
    ]
    lines += ["", "attempts:", _table(rows, ["#", "site", "started", "ended", "outcome", "reason"])]
    progress = job.get("progress") or {}
    if progress.get("completions", 1) > 1:
        lines.append(
            f"\nprogress: {progress['succeeded']} succeeded, {progress['failed']} failed, "
            f"{progress['active']} running, of {progress['completions']}"
        )
    return "\n".join(lines)


def _bar(progress: dict[str, int], width: int = 30) -> str:
    total = max(progress.get("completions", 1), 1)
    done = progress.get("succeeded", 0) + progress.get("failed", 0)
    filled = int(width * done / total)
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def follow(job_id: str, out=sys.stdout, interval: float = 1.0) -> dict[str, Any]:
    """Stream the log and state changes until the job ends; returns the final job."""
    offset = 0
    last = None
    while True:
        job = client.get(job_id)
        state = (job["state"], job.get("site"), job.get("fallback"))
        if state != last:
            print(f"-- {_summary(job)}", file=out, flush=True)
            last = state
        progress = job.get("progress") or {}
        if progress.get("completions", 1) > 1:
            print(f"-- {_bar(progress)}", file=out, flush=True)
        data = client.connection().request("GET", f"jobs/{job_id}/log", offset=offset)
        if data.get("data"):
            out.write(data["data"])
            out.flush()
        offset = data.get("next_offset", offset)
        if job["state"] in client.TERMINAL and (data.get("eof") or not data.get("data")):
            return job
        time.sleep(interval)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiinfn-jobs", description="Background jobs on AI_INFN: submit, follow, cancel."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    p = sub.add_parser("submit", help="submit a notebook, script or command")
    p.add_argument("target", nargs=argparse.REMAINDER, help="FILE [ARGS] or -- COMMAND ARGS")
    p.add_argument(
        "--command", dest="command_mode", action="store_true", help="TARGET is a command"
    )
    p.add_argument("--follow", action="store_true", help="stream the log until the job ends")
    _resources(p)
    p = sub.add_parser("plan", help="show where a job would run, and why")
    p.add_argument("target", nargs=argparse.REMAINDER)
    p.add_argument("--command", dest="command_mode", action="store_true")
    _resources(p)
    p = sub.add_parser("list", help="your jobs")
    p.add_argument("--state")
    p.add_argument("--site")
    p.add_argument("--user", help="admins: another user's jobs")
    p.add_argument("--json", action="store_true")
    for name, text in (("show", "a job with its attempt history"), ("cancel", "cancel a job")):
        p = sub.add_parser(name, help=text)
        p.add_argument("id")
        if name == "show":
            p.add_argument("--json", action="store_true")
    p = sub.add_parser("logs", help="a job's log")
    p.add_argument("id")
    p.add_argument("--follow", action="store_true")
    p.add_argument("--index", type=int, help="array job: the completion index")
    p = sub.add_parser("rerun", help="run a job again, optionally elsewhere")
    p.add_argument("id")
    p.add_argument("--site")
    sub.add_parser("sites", help="sites, their health and capacity")
    return parser


def run(args: argparse.Namespace) -> int:
    if args.command in ("submit", "plan"):
        spec = _target(args)
        options = _options(args)
        target = spec.pop("target", None)
        if args.command == "plan":
            plan = client.plan(target, **spec, **options)
            print(f"{plan['reasons']['requires_gpu']}\n{plan['reasons']['offloadable']}")
            for number, site in enumerate(plan["sites"], 1):
                print(f"  {number}. {site['display_name']}: {site['reason']}")
            for site in plan["ruled_out"]:
                print(f"  x  {site['display_name']}: {site['reason']}")
            return 0
        job = client.submit(target, **spec, **options)
        print(_summary(job))
        if args.follow:
            job = follow(job["id"])
            return 0 if job["state"] == "succeeded" else 1
        return 0
    if args.command == "list":
        jobs = client.list(state=args.state, site=args.site, user=args.user)
        if args.json:
            print(json.dumps(jobs, indent=2))
        else:
            rows = [
                (
                    j["id"],
                    j["name"],
                    j["owner"],
                    j["state"],
                    j.get("site_display") or "",
                    j.get("fallback") or "",
                )
                for j in jobs
            ]
            print(_table(rows, ["id", "name", "owner", "state", "site", "fallback"]))
        return 0
    if args.command == "show":
        job = client.get(args.id)
        print(json.dumps(job, indent=2) if args.json else show(job))
        return 0
    if args.command == "cancel":
        print(_summary(client.cancel(args.id)))
        return 0
    if args.command == "rerun":
        print(_summary(client.rerun(args.id, args.site)))
        return 0
    if args.command == "logs":
        for chunk in client.log_chunks(args.id, follow=args.follow, completion_index=args.index):
            sys.stdout.write(chunk)
        sys.stdout.flush()
        return 0
    if args.command == "sites":
        rows = [
            (
                s["display_name"],
                s["health"]["state"],
                f"{s['capacity']['gpus']['free']}/{s['capacity']['gpus']['total']}",
                f"{s['capacity']['cpu']['free']:g}/{s['capacity']['cpu']['total']:g}",
                s["queue"]["pending"],
            )
            for s in client.sites()
        ]
        print(_table(rows, ["site", "health", "GPUs free", "CPUs free", "queued"]))
        return 0
    raise AssertionError(args.command)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except JobsClientError as exc:
        print(f"aiinfn-jobs {args.command}: error: {exc.message}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"aiinfn-jobs {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
