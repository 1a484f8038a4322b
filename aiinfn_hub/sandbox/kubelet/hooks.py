"""Container lifecycle hooks: a container's ``postStart`` ``exec`` command.

Imitates the kubelet's lifecycle handler (pkg/kubelet/lifecycle, run from ``startContainer``):
the command runs once the container's process has started, with the container's
environment, working directory and mounts; until it ends the container stays waiting and the
pod is not Running. If it fails, a ``FailedPostStartHook`` event says why (the kubelet's
message, with the end of the command's output), the container is killed and restarted as its
pod's restartPolicy says (waiting ``PostStartHookError``). Not modelled: ``preStop`` and
``httpGet`` hooks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..objects import Obj
from ..runtime import LocalProcess
from ..volumes import Mounts

if TYPE_CHECKING:
    from .containers import ContainerRun
    from .podworker import PodWorker

HOOK_OUTPUT_MAX = 1024  # characters of a failed hook's output in its event


async def post_start(
    worker: PodWorker,
    pod: Obj,
    run: ContainerRun,
    *,
    command: list[str],
    env: dict[str, str],
    cwd: Path,
    mounts: Mounts,
) -> bool | None:
    """Run the container's postStart exec hook: True when it succeeds; False when it fails
    (a FailedPostStartHook event, the container killed and its exit recorded); None when
    the pod stops meanwhile."""
    argv = [mounts.rewrite(str(a)) for a in command]
    output_path = worker.dir / "hooks" / f"{run.spec['name']}.postStart.log"
    output_path.unlink(missing_ok=True)
    error: str | None = None
    run.post_start = True
    try:
        if not argv:
            error = "exec: no command given"
        else:
            try:
                process = LocalProcess.spawn(
                    argv, env, cwd, output_path, isolated=not worker.connected
                )
            except OSError as exc:
                error = f'exec: "{argv[0]}": {exc.strerror or exc}'
            else:
                code = await worker.unless_stopped(process.wait())
                if code is None:
                    await process.terminate(0)
                    return None
                if code != 0:
                    error = f"command '{' '.join(command)}' exited with {code}: "
    finally:
        run.post_start = False
    if error is None:
        return True
    output = output_path.read_text(errors="replace") if output_path.exists() else ""
    message = (
        f'Exec lifecycle hook ([{" ".join(command)}]) for Container "{run.spec["name"]}" '
        f'in Pod "{worker.name}_{worker.namespace}({worker.uid})" failed - error: {error}, '
        f"message: {json.dumps(output[-HOOK_OUTPUT_MAX:], ensure_ascii=False)}"
    )
    worker.api.event(pod, "FailedPostStartHook", message, type="Warning", component="kubelet")
    worker.api.event(pod, "Killing", "FailedPostStartHook", component="kubelet")
    grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    assert run.process is not None
    worker.record_exit(run, await run.process.terminate(max(30 if grace is None else grace, 2)))
    run.hook_error = message
    return False
