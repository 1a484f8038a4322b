"""``aiinfn-jobs``: submit and follow background jobs from a terminal.

    aiinfn-jobs submit FILE [options] [-- ARGS...]     a notebook, Python or shell script
    aiinfn-jobs submit [options] -- COMMAND ARGS...     a command
    aiinfn-jobs plan   (same as submit)                 where it would run, and why
    aiinfn-jobs list | show ID | logs ID [--follow] | cancel ID | rerun ID [--site S] | sites

It talks to the Jupyter server it runs in (see :mod:`aiinfn_hub.jobs.client`), or to the
URL of ``--url``/``$AIINFN_JOBS_API`` with ``--token``/``$AIINFN_JOBS_TOKEN``. Exit status:
0 done, 1 the followed job failed or was cancelled, 2 an error (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from ..usage import CommandLineError, OneLineParser, UsageError
from . import client
from .client import JobsClientError
from .clitext import bar, plan_lines, show, sites_text, summary, table, why

SUFFIXES = (".ipynb", ".py", ".sh")


def follow(
    job_id: str,
    out: TextIO = sys.stdout,
    interval: float = 1.0,
    completion_index: int | None = None,
    shown: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Print state changes and the log, or a progress bar for array jobs, until the job ends
    (``completion_index`` follows one task of an array job instead). ``shown``: the job as
    already printed."""
    last_state = _state(shown) if shown else None
    last_bar = None
    last_why = why(shown) if shown else None
    cursor = client.LogCursor(job_id, completion_index)
    while True:
        job = client.get(job_id)
        progress = job.get("progress") or {}
        array = progress.get("completions", 1) > 1 and completion_index is None
        ended = job["state"] in client.TERMINAL
        state = _state(job)
        if state != last_state and not ended:
            print(f"-- {summary(job)}", file=out, flush=True)
            last_state = state
        sentence = why(job)
        if sentence != last_why and not ended:  # why it waits, each time that changes
            print(f"-- {sentence}", file=out, flush=True)
            last_why = sentence
        if array:
            line = bar(progress)
            if line != last_bar:
                print(f"-- {line}", file=out, flush=True)
                last_bar = line
        else:
            out.write(cursor.read())
            out.flush()
        if ended and (array or cursor.eof):
            print(f"-- {summary(job)}", file=out)
            if job["state"] != "succeeded":
                print(f"-- {why(job)}", file=out)
            saved = client.executed_notebook(job)
            if saved:
                print(f"-- executed notebook: {saved}", file=out)
            out.flush()
            return job
        time.sleep(interval)


def _state(job: dict[str, Any]) -> tuple[Any, ...]:
    return job["state"], job.get("site"), len(job.get("attempts") or [])


def _resources(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("what the job needs")
    group.add_argument("--gpus", type=int, metavar="N", help="number of GPUs")
    group.add_argument("--gpu-model", metavar="M", help="GPU model, e.g. A100 or T4")
    group.add_argument("--cpu", metavar="C", help="CPU cores, e.g. 4 or 500m")
    group.add_argument("--memory", metavar="M", help="memory, e.g. 8Gi")
    group.add_argument("--walltime", metavar="T", help="maximum run time, e.g. 2h or 30m")
    group.add_argument("--completions", type=int, metavar="N", help="array job of N tasks")
    group.add_argument("--parallelism", type=int, metavar="N", help="array job: tasks at once")
    group.add_argument(
        "--volume",
        action="append",
        metavar="V",
        help="a volume it needs: pvc (your home), pvc:CLAIM (shared, at /mnt/pvc/CLAIM), "
        "configmap:NAME or secret:NAME "
        "(shared by the admins, read-only at /mnt/configmap/NAME, /mnt/secret/NAME), emptydir "
        "(scratch at /scratch; emptydir:NAME at /scratch/NAME)",
    )
    group.add_argument("--env", action="append", default=[], metavar="K=V", help="variable")
    group.add_argument("--local-only", action="store_true", help="keep it on local resources")
    group.add_argument("--site", metavar="NAME", help="only this site (see: aiinfn-jobs sites)")
    group.add_argument("--name", help="a name for the job")
    group.add_argument(
        "--param", action="append", default=[], metavar="K=V", help="notebook parameter"
    )
    group.add_argument(
        "--from-home",
        action="store_true",
        help="local sites: run the file in place from your home volume (no size limit)",
    )


def _pairs(items: list[str], option: str, as_json: bool) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{option} {item!r}: write it as NAME=VALUE")
        if as_json:
            try:
                found[key] = json.loads(value)
            except ValueError:
                found[key] = value
        else:
            found[key] = value
    return found


def _request(args: argparse.Namespace, rest: list[str]) -> tuple[str | None, dict[str, Any]]:
    """The target file (or None) and the keyword options of ``client.submit``."""
    options: dict[str, Any] = {
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
        "env": _pairs(args.env, "--env", False) or None,
        "parameters": _pairs(args.param, "--param", True) or None,
        "from_home": args.from_home,
    }
    if args.file is None:
        if not rest:
            raise UsageError("give a FILE to run, or -- COMMAND ARGS...")
        if options["parameters"] or options["from_home"]:
            raise UsageError("--param and --from-home go with a FILE")
        options["command"] = rest
        return None, options
    if not args.file.endswith(SUFFIXES):
        raise UsageError(
            f"{args.file}: FILE must be a notebook (.ipynb), Python (.py) or shell (.sh) "
            "script; to run a command write: aiinfn-jobs submit -- COMMAND ARGS"
        )
    options["args"] = rest or None
    return args.file, options


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="aiinfn-jobs",
        description="Background jobs on AI_INFN: submit, follow, cancel.",
        epilog="Anything after '--' is the command (no FILE) or the FILE's arguments.",
    )
    parser.add_argument("--url", help="the API to use (default: this Jupyter server's)")
    parser.add_argument("--token", help="token for --url (default: $AIINFN_JOBS_TOKEN)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, text in (("submit", "run a notebook, script or command"), ("plan", "preview")):
        p = sub.add_parser(
            name,
            help=text if name == "submit" else "show where a job would run, and why",
            usage=f"aiinfn-jobs {name} FILE [options] [-- ARGS] | [options] -- COMMAND ARGS",
        )
        p.add_argument("file", nargs="?", metavar="FILE", help=".ipynb, .py or .sh")
        if name == "submit":
            p.add_argument("--follow", action="store_true", help="follow it until it ends")
        _resources(p)
    p = sub.add_parser("list", help="your jobs, newest first")
    p.add_argument("--state", help="only jobs in this state (e.g. running)")
    p.add_argument("--site", help="only jobs at this site")
    p.add_argument("--user", help="admins: another user's jobs")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = sub.add_parser("show", help="a job: why it waits or failed, its plan and attempts")
    p.add_argument("id")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = sub.add_parser("logs", help="a job's log")
    p.add_argument("id")
    p.add_argument("--follow", action="store_true", help="until the job ends")
    p.add_argument("--index", type=int, help="array jobs: the task's completion index")
    p = sub.add_parser("cancel", help="cancel a job")
    p.add_argument("id")
    p = sub.add_parser("rerun", help="run a job again as a new job, optionally elsewhere")
    p.add_argument("id")
    p.add_argument("--site", help="run it at this site")
    sub.add_parser("sites", help="sites, their health, capacity and queue")
    return parser


def run(args: argparse.Namespace, rest: list[str]) -> int:
    if args.command in ("submit", "plan"):
        target, options = _request(args, rest)
        if args.command == "plan":
            print("\n".join(plan_lines(client.plan(target, **options))))
            return 0
        job = client.submit(target, **options)
        print(summary(job), flush=True)
        if args.follow:
            job = follow(job["id"], shown=job)
            return 0 if job["state"] == "succeeded" else 1
        return 0
    if rest:
        raise UsageError(f"{args.command} takes no '--' arguments")
    if args.command == "list":
        jobs = client.list(state=args.state, site=args.site, user=args.user)
        if args.json:
            print(json.dumps(jobs, indent=2))
            return 0
        rows = [
            (
                j["id"],
                j["name"],
                j["state"],
                j.get("site_display") or "",
                j.get("submitted") or "",
                j.get("fallback") or "",
            )
            for j in jobs
        ]
        print(table(rows, ["id", "name", "state", "site", "submitted", "fallback"]))
        return 0
    if args.command == "show":
        job = client.get(args.id)
        print(json.dumps(job, indent=2) if args.json else show(job))
        return 0
    if args.command == "cancel":
        print(summary(client.cancel(args.id)))
        return 0
    if args.command == "rerun":
        print(summary(client.rerun(args.id, args.site)))
        return 0
    if args.command == "logs":
        for chunk in client.log_chunks(args.id, follow=args.follow, completion_index=args.index):
            sys.stdout.write(chunk)
            sys.stdout.flush()
        return 0
    if args.command == "sites":
        print(sites_text(client.sites()))
        return 0
    raise UsageError(f"unknown command {args.command}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    rest: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, rest = argv[:cut], argv[cut + 1 :]
    try:
        args = build_parser().parse_args(argv)
    except CommandLineError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        if args.url:
            token = args.token or os.environ.get("AIINFN_JOBS_TOKEN")
            client.connect(args.url, token or os.environ.get("JUPYTERHUB_API_TOKEN", ""))
        return run(args, rest)
    except (JobsClientError, UsageError) as exc:
        message = exc.message if isinstance(exc, JobsClientError) else str(exc)
        print(f"aiinfn-jobs {args.command}: error: {message}", file=sys.stderr)
        return 2
    except TimeoutError as exc:
        print(f"aiinfn-jobs {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nstopped; the job keeps running in the background", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
