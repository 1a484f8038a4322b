"""AIInfnSpawner: a KubeSpawner that knows the AI_INFN sites.

Its parts are mixins, each with its own options (all set as ``c.AIInfnSpawner.<name>``):

- :class:`~.form_spawner.ProfileForm`: profiles from the site catalogue (:mod:`.profiles`): CPU
  sizes, one profile per local GPU model showing live free/total GPUs from one shared node and
  pod watch (:mod:`.clusterview`), and an "automatic" profile; the GPU model is enforced with
  required node affinity; user options are validated before start, for the form and the REST
  API alike.
- :class:`~.automatic_spawner.AutomaticStart`: the automatic profile asks the placement engine
  where the server runs (:mod:`.sessions`), and falls back to the next site of the plan when a
  site does not start it in time.
- :class:`~.pod_spawner.ServerPod`: the user's server gets the jobs service's URL and the server
  extension's mode, and no Kubernetes credentials or privileges.
- :class:`~.copyback_spawner.CopyBack`: a remote server's scratch home comes back before it
  stops.

This module holds what ties them to KubeSpawner: the shared catalogue and watch cache, the
start, stop and poll, the progress in plain words (:mod:`.progress`), and the saved state.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from kubespawner import KubeSpawner

from .. import __version__
from ..placement import Exclusion, GpuPool, PlacementConfig, Placer, Site
from ..serverplace import ServerPlace
from .automatic_spawner import AutomaticStart
from .clusterview import ClusterView, GpuCount
from .copyback_spawner import CopyBack
from .form_spawner import ProfileForm
from .kuberequests import activity, instrument
from .pod_spawner import ServerPod
from .profiles import AUTOMATIC
from .progress import describe_event, describe_pod

#: How the hub's spawners name themselves to the API server (its audit log, API priority and
#: fairness), as Kubernetes' own controllers do.
USER_AGENT = f"aiinfn-hub-spawner/{__version__}"


class AIInfnSpawner(AutomaticStart, ServerPod, ProfileForm, CopyBack, KubeSpawner):
    """KubeSpawner with site-aware profiles, validated options and automatic fallback."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # KubeSpawner's client is shared by the hub's spawners and their pod and event
        # reflectors (kubespawner.clients.shared_client), so this names all their requests
        self.api.api_client.user_agent = USER_AGENT
        instrument(self.api.api_client)
        self.placer: Placer = PlacementConfig(parent=self).placer()
        self.site_name = ""
        self.attempts: list[dict[str, str]] = []
        self._notes: list[str] = []
        #: Set when a note is added: progress sends it at once. JupyterHub stops reading
        #: progress as soon as the server answers, so the last note ("your server runs at
        #: ...") must not wait for the next poll.
        self._noted = asyncio.Event()
        self._gpu: tuple[Site, GpuPool] | None = None
        self._session: tuple[Site, GpuPool | None] | None = None
        self._skipped: list[Exclusion] = []
        self._place: ServerPlace | None = None
        self._home: tuple[Any, str] | None = None
        self.scratch_place = {}
        self.copy_back_summary = ""
        self._start_profiles: list[dict[str, Any]] | None = None
        self.cluster  # noqa: B018 - start the shared watches now, not on the first form

    # ---------------------------------------------------------------------------- the catalogue

    @property
    def cluster(self) -> ClusterView:
        return ClusterView.shared(self.api.api_client, self.namespace)

    def local_sites(self) -> list[Site]:
        return [s for s in self.placer.sites.values() if not s.is_offload]

    def count_gpus(self, site: Site, pool: GpuPool) -> GpuCount | None:
        return self.cluster.gpus(site, pool)

    # ---------------------------------------------------------------------------- the pod

    def get_env(self) -> dict[str, str]:
        env = super().get_env()
        env.update(self.server_env())
        return env

    async def get_pod_manifest(self) -> Any:
        return self.shape_pod(await super().get_pod_manifest())

    # ---------------------------------------------------------------------------- lifecycle

    async def _start_watching_pods(self, replace: bool = False) -> Any:
        with activity("watch"):
            return await super()._start_watching_pods(replace=replace)

    async def _start_watching_events(self, replace: bool = False) -> Any:
        with activity("watch"):
            return await super()._start_watching_events(replace=replace)

    async def poll(self) -> int | None:
        with activity("poll"):
            if self.time_limit_near():
                await self.stop(now=True)  # copies the files back first
                return 0
            return await super().poll()

    async def stop(self, now: bool = False) -> None:
        with activity("stop"):
            if self.scratch_place:
                await self._copy_back()
            await super().stop(now=now)

    async def _start(self) -> str:
        with activity("start"):
            self._notes, self.attempts, self._gpu, self._session = [], [], None, None
            self._skipped, self.scratch_place, self._home = [], {}, None
            if self.copy_back_summary:  # the last server's copy-back, said once
                self._note(f"your last remote server: {self.copy_back_summary}")
                self.copy_back_summary = ""
            # one profile list for the whole start (options check, overrides, placement)
            self._start_profiles = self.profiles()
            try:
                profile = self.chosen_profile(self._start_profiles)
                if profile["slug"] == AUTOMATIC:
                    return await self._start_automatic(
                        remote=not self.keep_local(profile), start=super()._start
                    )
                self.site_name = (profile.get("gpu") or {}).get("site") or (
                    self.local_sites()[0].name
                )
                return await super()._start()
            finally:
                self._start_profiles = None

    # ---------------------------------------------------------------------------- progress

    def _note(self, message: str) -> None:
        if message not in self._notes:
            self._notes.append(message)
            self._noted.set()
            self.log.info("%s: %s", self._log_name, message)

    async def progress(self) -> AsyncIterator[dict[str, Any]]:
        """Placement notes, then the pod's events and state, in plain words."""
        if self.events_enabled:
            await self._start_watching_events()
        sent_notes = 0
        seen: set[str] = set()
        last_state = None
        value = 0.0
        while True:
            future = self._start_future
            finished = future is not None and future.done()
            messages: list[tuple[str, Any]] = [(n, None) for n in self._notes[sent_notes:]]
            sent_notes = len(self._notes)
            self._noted.clear()  # a note from now on wakes the wait below
            for event in self.events if self.event_reflector else ():
                uid = event["metadata"]["uid"]
                if uid not in seen:
                    seen.add(uid)
                    gpu = self.count_gpus(*self._gpu) if self._gpu else None
                    messages.append((describe_event(event, gpu), event))
            state = describe_pod(self.cluster.pod(self.pod_name) or {}, self._site_label())
            if state and state != last_state:
                messages.append((state, None))
            last_state = state
            for message, event in messages:
                value += (90 - value) / 3
                update: dict[str, Any] = {"progress": int(value), "message": message}
                if event is not None:
                    update["raw_event"] = event
                yield update
            if finished:
                return
            with contextlib.suppress(asyncio.TimeoutError):  # a note, or the next poll
                await asyncio.wait_for(self._noted.wait(), 0.5)

    def _site_label(self) -> str:
        site = self.placer.sites.get(self.site_name)
        return site.display_name if site else ""

    # ---------------------------------------------------------------------------- state

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        if self.site_name:
            state["aiinfn_site"] = self.site_name
            state["aiinfn_attempts"] = list(self.attempts)
        if self.scratch_place:
            state["aiinfn_scratch_place"] = dict(self.scratch_place)
        if self.copy_back_summary:
            state["aiinfn_copy_back"] = self.copy_back_summary
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.site_name = state.get("aiinfn_site", "")
        self.attempts = list(state.get("aiinfn_attempts", []))
        self.scratch_place = dict(state.get("aiinfn_scratch_place") or {})
        self.copy_back_summary = str(state.get("aiinfn_copy_back") or "")

    def clear_state(self) -> None:
        super().clear_state()
        self.site_name = ""
        self.attempts = []
        self.scratch_place = {}
