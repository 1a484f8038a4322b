"""What ``aiinfn-jobs`` prints: jobs, plans and sites as text (pure, no I/O)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ..placement.breaker import BreakerState
from ..placement.estimate import view_start_in_words


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """Rows as aligned text columns under ``headers``."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(x) for x in column) for column in zip(headers, *cells, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def summary(job: dict[str, Any]) -> str:
    """``<id>  <name>  <state> at <site>  (<fallback>)``."""
    text = f"{job['id']}  {job['name']}  {job['state']}"
    if job.get("site_display"):
        text += f" at {job['site_display']}"
    if job.get("fallback"):
        text += f"  ({job['fallback']})"
    return text


def why(job: dict[str, Any]) -> str:
    """Why the job is where it is, in one sentence (``explanation``), else its reason."""
    return str((job.get("explanation") or {}).get("sentence") or job.get("reason", ""))


def why_details(job: dict[str, Any]) -> list[str]:
    """Each layer's raw words behind the sentence, as a table (none: no lines)."""
    details = (job.get("explanation") or {}).get("details") or []
    rows = [(d["layer"], d["source"], d["reason"], d["message"]) for d in details]
    return (
        ["", "why, layer by layer:", table(rows, ["layer", "from", "reason", "message"])]
        if rows
        else []
    )


def show(job: dict[str, Any]) -> str:
    """A job in full: state, why (one sentence), plan, the attempt history as a table, and
    each layer's raw words behind the sentence."""
    lines = [summary(job), f"  {why(job)}"]
    if job.get("executed_notebook"):
        lines.append(f"  executed notebook: {job['executed_notebook']}")
    lines += ["", "plan:", *plan_lines(job.get("plan") or {})]
    rows = []
    for attempt in job.get("attempts") or []:
        kueue = attempt.get("kueue") or {}
        rows.append(
            (
                attempt["number"],
                attempt.get("site_display") or attempt["site"],
                attempt.get("started") or "",
                attempt.get("ended") or "",
                (attempt.get("outcome") or "in progress").replace("_", " "),
                attempt.get("reason", ""),
                kueue.get("reason") or "",
                attempt.get("remote_job_id") or "",
            )
        )
    headers = ["#", "site", "started", "ended", "outcome", "reason", "kueue", "remote job"]
    lines += ["", "attempts:", table(rows, headers) if rows else "  none yet"]
    actions = job.get("actions") or []
    if actions:
        lines += ["", "by admins:", *(f"  {a['time']}  {a['words']}" for a in actions)]
    progress = job.get("progress") or {}
    if progress.get("completions", 1) > 1:
        lines += ["", f"progress: {bar(progress)}"]
    return "\n".join(lines + why_details(job))


def plan_lines(plan: dict[str, Any]) -> list[str]:
    """A plan: what was detected, each site with its reason and queue, the sites ruled out."""
    reasons = plan.get("reasons") or {}
    lines = [f"  {reasons[k]}" for k in ("requires_gpu", "offloadable") if reasons.get(k)]
    for number, site in enumerate(plan.get("sites") or [], 1):
        name = site.get("display_name", site["name"])
        lines.append(f"  {number}. {name}: {site['reason']}")
        queue = site.get("queue")
        if queue:
            lines.append(f"     {queue['basis']}")
            lines.append(f"     {view_start_in_words(queue, now=time.time())}")
    for site in plan.get("ruled_out") or []:
        lines.append(f"  x  {site.get('display_name', site['name'])}: {site['reason']}")
    return lines


def bar(progress: dict[str, int], width: int = 30) -> str:
    """``[#########.....] 6/10 done (1 failed, 2 running)``."""
    total = max(int(progress.get("completions") or 1), 1)
    ok, failed = int(progress.get("succeeded") or 0), int(progress.get("failed") or 0)
    done = min(ok + failed, total)
    filled = width * done // total
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} done "
        f"({failed} failed, {int(progress.get('active') or 0)} running)"
    )


def sites_text(sites: list[dict[str, Any]]) -> str:
    """The sites as a table, then why each degraded site is skipped (its breaker open or
    probing: new jobs go elsewhere until it is tried again)."""
    rows = []
    notes = []
    for s in sites:
        breaker = s.get("breaker") or {}
        degraded = BreakerState(breaker.get("state", "closed")) is not BreakerState.CLOSED
        rows.append(
            (
                s["name"],
                s["display_name"],
                "degraded" if degraded else s["health"]["state"],
                f"{s['capacity']['gpus']['free']}/{s['capacity']['gpus']['total']}",
                f"{s['capacity']['cpu']['free']:g}/{s['capacity']['cpu']['total']:g}",
                s["queue"]["pending"],
            )
        )
        if degraded:
            notes.append(f"{s['display_name']}: {breaker.get('reason') or 'degraded'}")
    text = table(rows, ["name", "site", "health", "GPUs free", "CPUs free", "queued"])
    return "\n".join([text, *notes])
