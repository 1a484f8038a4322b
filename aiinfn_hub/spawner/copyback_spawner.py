"""AIInfnSpawner's copy-back (:mod:`.copyback`): its settings, when it runs (before every
stop, and before a remote site's time limit), and the run, from the spawner's own settings."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from traitlets import Float, Integer
from traitlets.config import LoggingConfigurable

from .copyback import (
    CopyBackPlan,
    copy_pod,
    describe,
    folder_name,
    pod_name,
    run_copy_back,
)


class CopyBack(LoggingConfigurable):
    """Mixed into AIInfnSpawner (before KubeSpawner): copy a scratch home back before it goes.
    Its options are set as AIInfnSpawner's (``c.AIInfnSpawner.copy_back_max_bytes``)."""

    copy_back_max_bytes = Integer(
        2**30,
        help="""Before an Automatic server at a remote site stops (stopped by its user, culled,
        or near the site's walltime), copy the files created or changed in its scratch home
        back into the user's home volume, up to this many bytes in all; a report of what was
        copied and what was not is written there too. 0: no copy-back, and the Automatic
        profile keeps servers local unless the user chooses remote sites on the form.""",
    ).tag(config=True)
    copy_back_timeout = Float(
        600.0,
        help="""Seconds the copy-back (see copy_back_max_bytes) may take before the server is
        stopped all the same; what did not arrive by then is lost, and the log says so.""",
    ).tag(config=True)
    copy_back_lead_seconds = Float(
        900.0,
        help="""Seconds before a remote site's time limit (its max_walltime) ends a server with
        a scratch home when the hub copies its files back and stops it itself, so the site's
        batch system does not kill it first. Checked at each poll (Spawner.poll_interval).""",
    ).tag(config=True)
    #: Where the server runs when its home is scratch there (the copy-back's to do), as
    #: ServerPlace.to_env gives it; kept in the state, so a restarted hub still copies.
    scratch_place: dict[str, Any]
    #: The last copy-back in a sentence (said at the next start), kept in the state.
    copy_back_summary: str

    if TYPE_CHECKING:  # what the mixin reads of the spawner it is mixed into
        api: Any
        api_token: str
        cluster: Any
        namespace: str
        pod_name: str
        server: Any
        tolerations: Any
        _log_name: str

        def local_sites(self) -> list[Any]: ...

        def _sorted_dict_values(self, values: Any) -> list[Any]: ...

    def time_limit_near(self) -> bool:
        """Whether the remote site's time limit is less than copy_back_lead_seconds away."""
        ends_at = self.scratch_place.get("ends_at")
        if not ends_at or time.time() < ends_at - self.copy_back_lead_seconds:
            return False
        site = self.scratch_place.get("site_name", "the remote site")
        self.log.info("%s: %s's time limit is near: stopping it", self._log_name, site)
        return True

    async def _copy_back(self) -> None:
        """Bring the scratch home's changed files into the home volume (:mod:`.copyback`);
        once: a failure is logged and the server is stopped all the same."""
        place, self.scratch_place = self.scratch_place, {}
        pod = self.cluster.pod(self.pod_name)
        if not pod or (pod.get("status") or {}).get("phase") != "Running" or not self.server:
            self.log.warning("%s: the server is not running: nothing to copy back", self._log_name)
            return
        home = place.get("home")  # [the claim's pod volume, its mount path]
        if not home:
            self.log.warning("%s: no home volume to copy back into", self._log_name)
            return
        copy = CopyBackPlan(
            server_url=self.server.url,
            token=self.api_token,
            home_volume=home[0],
            home_mount=home[1],
            folder=folder_name(place.get("site") or "remote"),
            max_bytes=int(place.get("copy_back_bytes") or self.copy_back_max_bytes),
            timeout=self.copy_back_timeout,
        )
        local = self.local_sites()[0]
        manifest = copy_pod(
            name=pod_name(self.pod_name),
            server_pod=pod,
            copy=copy,
            node_selector=local.wiring.node_selector,
            tolerations=[*self._sorted_dict_values(self.tolerations), *local.wiring.tolerations],
        )
        summary = await run_copy_back(
            api=self.api,
            namespace=self.namespace,
            manifest=manifest,
            phase_of=lambda name: ((self.cluster.pod(name) or {}).get("status") or {}).get("phase"),
            timeout=self.copy_back_timeout,
        )
        self.copy_back_summary = describe(summary)
        log = self.log.warning if summary.get("error") else self.log.info
        log("%s: %s", self._log_name, self.copy_back_summary)
