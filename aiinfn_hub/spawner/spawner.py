"""AIInfnSpawner: a KubeSpawner that knows the AI_INFN sites.

- Profiles come from the site catalogue (:mod:`.profiles`): CPU sizes, one profile per local
  GPU model showing live free/total GPUs, and an "automatic" profile. Counts come from one
  shared node and pod watch (:mod:`.clusterview`): rendering the form makes no Kubernetes
  request (see :mod:`.kuberequests` and ``/hub/metrics``).
- The GPU model is enforced with required node affinity.
- User options are validated before start, for the form and the REST API alike: HTTP 400 naming
  the unknown profile, option or out-of-range value.
- The user's server gets the jobs service's URL and the server extension's mode, and no
  Kubernetes credentials or privileges.
- Progress in plain words (:mod:`.progress`).
- The automatic profile asks the placement engine where the server runs (:mod:`.sessions`), and
  falls back to the next site of the plan when a site does not start it in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kubespawner import KubeSpawner
from tornado import web
from traitlets import Any as AnyTrait
from traitlets import Bool, Dict, Enum, Float, Integer, List, Unicode, default, validate

from .. import __version__
from ..placement import (
    Exclusion,
    GpuPool,
    NextSite,
    PlacementConfig,
    PlacementError,
    Placer,
    Plan,
    Site,
    row_key,
)
from ..serverplace import FallBackStep, ServerPlace
from . import copyback
from .clusterview import ClusterView, GpuCount
from .copyback_spawner import CopyBack
from .kuberequests import activity, instrument
from .profiles import (
    AUTOMATIC,
    GPUS,
    OptionsError,
    ProfileSettings,
    Resources,
    Where,
    build_profiles,
    chosen_where,
    remote_note,
    validate_options,
)
from .progress import describe_event, describe_pod
from .sessions import SessionSpec, choose_pool, claim_volumes, place_pod, unreachable

CHECK_INTERVAL = 0.25
#: How the hub's spawners name themselves to the API server (its audit log, API priority and
#: fairness), as Kubernetes' own controllers do.
USER_AGENT = f"aiinfn-hub-spawner/{__version__}"


class FallBack(Exception):
    """A site did not start the server; the message says why."""


class AIInfnSpawner(CopyBack, KubeSpawner):
    """KubeSpawner with site-aware profiles, validated options and automatic fallback."""

    cpu_profiles = Dict(
        default_value={
            "cpu-small": {"display_name": "CPU: small", "cpu": 1, "memory": "4Gi"},
            "cpu-large": {"display_name": "CPU: large", "cpu": 4, "memory": "16Gi"},
        },
        help="""CPU-only profiles, by slug, in the order shown: {slug: {display_name, cpu,
        memory, description}}. cpu is cores (2, 0.5, 500m), memory a size (4Gi, 512Mi); both
        are the guarantee and the limit. A dict so that Helm values merge into it.""",
    ).tag(config=True)

    gpu_profile_cpu = Unicode(
        "4", help="CPUs (guarantee and limit) of a server in a GPU profile, e.g. 4 or 500m."
    ).tag(config=True)
    gpu_profile_memory = Unicode(
        "32Gi", help="Memory (guarantee and limit) of a server in a GPU profile, e.g. 32Gi."
    ).tag(config=True)
    gpu_counts = List(
        Integer(),
        default_value=[1, 2, 4],
        help="GPU counts users may choose; each GPU profile offers those that fit on one node "
        "of its model (the catalogue's per_node).",
    ).tag(config=True)
    gpu_tolerations = List(
        Dict(),
        help="Tolerations added to GPU profiles' servers, e.g. [{key: nvidia.com/gpu, "
        "operator: Exists, effect: NoSchedule}] where GPU nodes are tainted.",
    ).tag(config=True)

    automatic_profile = Bool(
        True, help="Offer the 'automatic' profile, where the placement engine chooses the site."
    ).tag(config=True)
    automatic_cpu = Unicode("4", help="CPUs of a server in the automatic profile.").tag(config=True)
    automatic_memory = Unicode("16Gi", help="Memory of a server in the automatic profile.").tag(
        config=True
    )
    automatic_gpu_models = List(
        Unicode(),
        help="""GPU models the automatic profile prefers at local sites, most preferred first
        (e.g. [A100, RTX5000]); a model with enough free GPUs always beats one without. Empty:
        the model of the plan's first site if the local site has it, else the one with the
        most free GPUs.""",
    ).tag(config=True)
    interactive_offload = Bool(
        False,
        help="""Let the automatic profile run servers at remote sites (GPU servers at CINECA
        Leonardo, CPU servers at the CNAF Tier-1, as the placement table says). Enable it only
        where interLink's mesh or VPN makes a remote pod reachable from the proxy; otherwise
        servers stay on local nodes.""",
    ).tag(config=True)
    offload_annotations = Dict(
        {"interlink.eu/pod-vpn": "true"},
        help="""Annotations on a server sent to a remote site, added to the site's own. The
        default asks interLink for its VPN, which gives the pod an address in the cluster's
        network: without it (or interLink's wstunnel, on a virtual node with
        Network.EnableTunnel) the pod's address is 127.0.0.1, the hub cannot reach the server,
        and the spawner starts it at the next site of the plan instead, saying why.""",
    ).tag(config=True)
    offload_scratch_claims = Bool(
        True,
        help="""When the automatic profile sends a server to a remote site, replace its
        volumes backed by PersistentVolumeClaims (which interLink sites cannot mount) with
        empty scratch folders, and say so on the progress page. False: a server that mounts a
        claim is never offloaded.""",
    ).tag(config=True)
    session_start_timeouts = Dict(
        value_trait=Float(),
        default_value={"leonardo": 300.0, "tier1": 300.0},
        help="""Seconds the automatic profile waits for the server to run at each site before
        removing it and starting it at the next site of the plan. Sites not listed (and the
        last site of a plan) get what is left of start_timeout, so keep the sum below it.""",
    ).tag(config=True)
    default_profile = Unicode(
        "",
        help="Slug of the profile preselected on the form and used when a spawn names none "
        "(REST API); empty: the first CPU profile.",
    ).tag(config=True)

    jobs_service_url = Unicode(
        "",
        help="URL of the jobs service as users' servers reach it, given to them as "
        "AIINFN_JOBS_URL, e.g. http://hub:10101/services/aiinfn-jobs/.",
    ).tag(config=True)
    server_mode = Enum(
        ["hub", "standalone"],
        "hub",
        help="AIINFN_HUB_MODE for the server extension in users' servers: 'hub' forwards jobs "
        "to the jobs service; 'standalone' runs one in the server (no hub).",
    ).tag(config=True)
    cluster_ready_timeout = Float(
        10.0,
        help="Seconds the form waits for the first node and pod lists after the hub starts; "
        "after that it shows the profiles without GPU counts.",
    ).tag(config=True)

    user_options = AnyTrait(
        help="""What the user chose (JupyterHub sets it from the form or the REST API body).
        Checked against the profiles before the server starts (apply_user_options): anything
        but an object naming a known profile and its options' choices is an HTTP 400 that says
        what is wrong. Any JSON is accepted here so that a bad body reaches that check: a
        Dict trait would fail earlier, where JupyterHub answers 500 and leaves the server
        pending.""",
    )

    @default("options_form")
    def _options_form_default(self):
        return self._render_profiles_form

    @default("additional_profile_form_template_paths")
    def _form_templates_default(self) -> list[str]:
        # our form.html (choices as buttons, folded details, the remote-site note)
        return [str(Path(__file__).with_name("templates"))]

    @default("apply_user_options")
    def _apply_user_options_default(self):
        return AIInfnSpawner._apply_user_options_hook

    @default("automount_service_account_token")
    def _automount_default(self) -> bool:
        return False

    @default("allow_privilege_escalation")
    def _allow_privilege_escalation_default(self) -> bool:
        return False

    @validate("cpu_profiles")
    def _check_cpu_profiles(self, proposal: Any) -> dict:
        for slug, spec in proposal.value.items():
            if not isinstance(spec, dict) or not {"cpu", "memory"} <= set(spec):
                raise ValueError(f"cpu_profiles[{slug!r}] needs cpu and memory, got {spec!r}")
            Resources.parse(spec["cpu"], spec["memory"], f"cpu_profiles[{slug!r}]")
        return proposal.value

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

    def profile_settings(self) -> ProfileSettings:
        cpu = {
            slug: (
                str(spec.get("display_name", slug)),
                str(spec.get("description", "")),
                Resources.parse(spec["cpu"], spec["memory"], f"cpu_profiles[{slug!r}]"),
            )
            for slug, spec in self.cpu_profiles.items()
        }
        # admins' own profiles (c.KubeSpawner.profile_list as a list), normalised by KubeSpawner
        extra = self.profile_list if isinstance(self.profile_list, list) else []
        extra = self._get_initialized_profile_list(extra) if extra else []
        return ProfileSettings(
            cpu_profiles=cpu,
            gpu_resources=Resources.parse(self.gpu_profile_cpu, self.gpu_profile_memory, "GPU"),
            gpu_counts=tuple(self.gpu_counts),
            gpu_tolerations=tuple(self.gpu_tolerations),
            base_tolerations=tuple(self._sorted_dict_values(self.tolerations)),
            automatic=self.automatic_profile,
            automatic_resources=Resources.parse(
                self.automatic_cpu, self.automatic_memory, "automatic"
            ),
            automatic_where=self._automatic_where(),
            remote_note=self._remote_note(),
            remote_by_default=self.copy_back_max_bytes > 0,
            default_profile=self.default_profile,
            extra_profiles=tuple(extra),
        )

    def _automatic_where(self) -> str:
        def row(key: str) -> str:
            return ", else ".join(s.display_name for s in self.placer.table[key])

        suffix = "-offloadable" if self.interactive_offload else ""
        return f"GPU servers: {row('gpu' + suffix)}; CPU servers: {row('cpu' + suffix)}"

    def _remote_note(self) -> str:
        """What the form says, before Start, about an Automatic server at a remote site; empty
        when none can run there (remote sites off, or a claim keeps it local)."""
        remote = [s.display_name for s in self.placer.sites.values() if s.is_offload]
        claims = claim_volumes(self._sorted_dict_values(self.volumes))
        if not self.interactive_offload or (claims and not self.offload_scratch_claims):
            return ""
        return remote_note(remote, scratch_home=bool(claims), copy_back=self.copy_back_max_bytes)

    def profiles(self) -> list[dict[str, Any]]:
        """The profile list now: from the catalogue and the watch caches, no API request."""
        return build_profiles(self.profile_settings(), self.local_sites(), self.count_gpus)

    async def _render_profiles_form(self, _spawner: Any = None) -> str:
        with activity("options_form"):
            await self.cluster.ready(self.cluster_ready_timeout)
            profiles = self.profiles()
            try:  # preselect the last choices only if they are still valid
                self.user_options = validate_options(self.user_options, profiles)
            except OptionsError:
                self.user_options = {}
            return self._render_options_form(profiles)

    # ---------------------------------------------------------------------------- user options

    @staticmethod
    def _apply_user_options_hook(spawner: AIInfnSpawner, user_options: Any) -> None:
        spawner.check_user_options(user_options)

    def check_user_options(
        self, user_options: Any, profiles: list[dict[str, Any]] | None = None
    ) -> dict[str, str]:
        """Validate (HTTP 400 naming what is wrong) and normalise ``user_options``."""
        with activity("validate"):
            try:
                options = validate_options(user_options, profiles or self.profiles())
            except OptionsError as exc:
                error = web.HTTPError(400, str(exc))
                # the spawn form shows this as is, not as "HTTP 400: error (...)"
                error.jupyterhub_message = str(exc)  # type: ignore[attr-defined]
                raise error from None
        self.user_options = options
        return options

    def keep_local(self, profile: dict[str, Any]) -> bool:
        """Whether this start keeps an Automatic server at a local site (the user's ``where``,
        else its default; always, when no remote site can run it)."""
        return chosen_where(self.user_options or {}, profile) is Where.LOCAL

    def chosen_profile(self, profiles: list[dict[str, Any]]) -> dict[str, Any]:
        slug = self.check_user_options(self.user_options, profiles).get("profile")
        return self._get_profile(slug, profiles)

    async def load_user_options(self) -> None:
        """Apply the chosen profile's overrides (KubeSpawner's machinery, our profile list)."""
        profiles = self._start_profiles or self.profiles()
        profile = self.chosen_profile(profiles)
        self._load_profile(profile["slug"], profiles)
        gpu = profile.get("gpu")
        if gpu:
            site = self.placer.sites[gpu["site"]]
            self._gpu = (site, next(p for p in site.capabilities.gpus if p.model == gpu["model"]))

    # ---------------------------------------------------------------------------- the pod

    def get_env(self) -> dict[str, str]:
        env = super().get_env()
        env["AIINFN_HUB_MODE"] = self.server_mode
        if self.jobs_service_url:
            env["AIINFN_JOBS_URL"] = self.jobs_service_url
        if self.site_name:
            self._place = self.server_place()
            env.update(self._place.to_env())
        return env

    def server_place(self) -> ServerPlace:
        """Where this start puts the server: the site, the fallbacks so far, and whether its
        home is scratch there (for the server's JupyterLab, and the copy-back)."""
        site = self.placer.sites.get(self.site_name)
        if site is None:
            return ServerPlace(site=self.site_name, site_name=self.site_name)
        scratch: tuple[str, ...] = ()
        if site.is_offload and self.offload_scratch_claims:
            scratch = claim_volumes(self._sorted_dict_values(self.volumes))
        walltime = site.capabilities.max_walltime if site.is_offload else None
        return ServerPlace(
            site=site.name,
            site_name=site.display_name,
            remote=site.is_offload,
            fell_back_from=tuple(FallBackStep(*step) for step in self._fallbacks()),
            scratch_volumes=scratch,
            copy_back_bytes=self.copy_back_max_bytes if scratch else 0,
            ends_at=time.time() + walltime if walltime else None,
        )

    async def get_pod_manifest(self) -> Any:
        pod = await super().get_pod_manifest()
        spec = pod.spec
        # no Kubernetes credentials in users' servers, whatever the service account
        spec.automount_service_account_token = False
        for container in [*spec.containers, *(spec.init_containers or [])]:
            name = container["name"] if isinstance(container, dict) else container.name
            if _unprivilege(container):
                self.log.warning(
                    "%s: container %s asked for privileges; users' servers run without them",
                    self._log_name,
                    name,
                )
        if self._session is not None:
            site, pool = self._session
            # the home claim as the server would mount it, before it turns into scratch
            self._home = copyback.home_of(
                self.api.api_client.sanitize_for_serialization(spec.volumes or []),
                self.api.api_client.sanitize_for_serialization(
                    spec.containers[0].volume_mounts or []
                ),
                self._place.scratch_volumes if self._place else (),
                self.notebook_dir or "",
            )
            notes = place_pod(
                pod,
                site,
                pool,
                self.offload_annotations,
                self.offload_scratch_claims,
                self.gpu_tolerations,
            )
            for note in notes:
                self._note(note)
        return pod

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
                    return await self._start_automatic(remote=not self.keep_local(profile))
                self.site_name = (profile.get("gpu") or {}).get("site") or (
                    self.local_sites()[0].name
                )
                return await super()._start()
            finally:
                self._start_profiles = None

    # ---------------------------------------------------------------------------- automatic

    def session_spec(self) -> SessionSpec:
        gpus = int((self.user_options or {}).get(GPUS) or 0)
        res = Resources.parse(self.automatic_cpu, self.automatic_memory, "automatic")
        volumes = self._sorted_dict_values(self.volumes)
        return SessionSpec(res.cpu, res.memory, gpus, claim_volumes(volumes))

    async def _start_automatic(self, *, remote: bool) -> str:
        """Start at the plan's first site, falling back along it; ``remote`` lets the plan use
        remote sites (the hub allows it and the user did not keep the server local)."""
        await self.cluster.ready(self.cluster_ready_timeout)
        spec = self.session_spec()
        remote = remote and self.interactive_offload
        request = spec.request(remote, self.offload_scratch_claims)
        try:
            plan = self.placer.plan(request, self.cluster.healths(self.placer.sites.values()))
        except PlacementError as exc:
            raise web.HTTPError(503, f"no site can run your server now: {exc}") from None
        skipped = self._skipped = [e for e in plan.ruled_out if e.field == "health"]
        for exclusion in skipped:
            self._note(f"not at {exclusion.site.display_name}: it is {exclusion.reason}")
        if not self.interactive_offload and any(s.is_offload for s in self.placer.sites.values()):
            self._note("remote sites are off for interactive servers on this hub")
        elif not remote:
            self._note("kept at local resources, as you chose: your home folder is mounted")
        # the GPU model of the table's first choice (e.g. A100 at Leonardo), then the admin's
        row = row_key(plan.requirements.requires_gpu, plan.requirements.offloadable)
        first = self.placer.table[row][0].capabilities.gpu_pool(None) if spec.gpus else None
        preferred = [*self.automatic_gpu_models, *([first.model] if first else [])]
        overall = self.start_timeout
        started = time.monotonic()
        tried: list[str] = []
        chosen = self._next_site(plan, tried)  # the plan's first site
        try:
            while chosen is not None:
                site = chosen.site
                left = overall - (time.monotonic() - started)
                # the last site left gets what is left of start_timeout; others their own
                wait = min(
                    left if chosen.last else self.session_start_timeouts.get(site.name, left), left
                )
                pool = choose_pool(site, spec.gpus, self.count_gpus, preferred)
                self._session = (site, pool)
                self._gpu = (site, pool) if pool is not None else None
                self.site_name = site.name
                fell_back = bool(self.attempts or skipped)
                what = f" on {pool.model} GPUs" if pool else ""
                self._note(
                    f"starting your server at {site.display_name}{what}"
                    + (" (fallback)" if fell_back else f": {chosen.reason}")
                )
                self.start_timeout: int = max(1, int(left) + 1)  # a jupyterhub Spawner trait
                try:
                    url = await self._attempt(site, wait, watch=not chosen.last)
                except FallBack as exc:
                    self.attempts.append({"site": site.name, "outcome": str(exc)})
                    if chosen.last:
                        raise web.HTTPError(503, f"{exc}; no other site is left to try") from None
                    tried.append(site.name)
                    chosen = self._next_site(plan, tried)
                    # a site that was not the last leaves at least one other to try
                    assert chosen is not None
                    self._note(f"{exc}; falling back to {chosen.site.display_name}")
                    continue
                self.attempts.append({"site": site.name, "outcome": "running"})
                self._note(self._outcome(site))
                place = self._place
                if place and place.scratch_home and place.copy_back_bytes and self._home:
                    volume, mount = self._home
                    self.scratch_place = asdict(place) | {"home": [dict(volume), mount]}
                return url
        finally:
            self.start_timeout = overall
        raise AssertionError("a plan has a first site, and the last site is never left")

    def _next_site(self, plan: Plan, tried: list[str]) -> NextSite | None:
        """The site the plan names after those ``tried``, by the sites' health now: the one
        fallback order of servers and jobs (:func:`~aiinfn_hub.placement.plan.next_site`)."""
        return plan.next_site(tried, self.cluster.healths(self.placer.sites.values()))

    def _fallbacks(self) -> list[tuple[str, str]]:
        """(site, why) of each site this start left or skipped, in order."""
        sites = self.placer.sites
        steps = [
            (sites[a["site"]].display_name if a["site"] in sites else a["site"], a["outcome"])
            for a in self.attempts
            if a["outcome"] != "running"
        ]
        return steps + [(e.site.display_name, e.reason) for e in self._skipped]

    def _outcome(self, site: Site) -> str:
        earlier = [f"{name}: {why}" for name, why in self._fallbacks()]
        if earlier:
            return f"your server runs at {site.display_name}; it fell back from " + "; ".join(
                earlier
            )
        return f"your server runs at {site.display_name}"

    async def _attempt(self, site: Site, wait: float, watch: bool) -> str:
        """KubeSpawner's start at ``site``; FallBack if the site fails or exceeds ``wait``
        (when ``watch``), or starts the server where the hub cannot reach it."""
        task = asyncio.ensure_future(super()._start())
        deadline = time.monotonic() + wait
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=CHECK_INTERVAL)
                if task in done:
                    url = task.result()
                    problem = unreachable(site, url)
                    if problem is None:
                        return url
                    break
                problem = self._site_problem(site, wait, deadline) if watch else None
                if problem is not None:
                    break
        finally:
            if not task.done():  # a fallback, or the spawn itself cancelled (hub timeout, user)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.stop(now=True)
        raise FallBack(problem)

    def _site_problem(self, site: Site, wait: float, deadline: float) -> str | None:
        health = self.cluster.health(site)
        if health is not None and not health.usable:
            return f"{site.display_name} became unavailable ({health.describe()})"
        pod = self.cluster.pod(self.pod_name) or {}
        status = pod.get("status") or {}
        if status.get("phase") == "Failed":
            why = ": ".join(x for x in (status.get("reason"), status.get("message")) if x)
            return f"{site.display_name} could not run your server ({why or 'it failed'})"
        if time.monotonic() >= deadline:
            queued = describe_pod(pod, site.display_name)
            return f"{site.display_name} did not start your server within {wait:g} s" + (
                f" ({queued})" if queued else ""
            )
        return None

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


def _unprivilege(container: Any) -> bool:
    """No privileged mode, no privilege escalation; True if the container had asked for them.

    KubeSpawner keeps security contexts as camelCase dicts; extra containers may be models.
    """
    if isinstance(container, dict):
        context = container.get("securityContext") or {}
        container["securityContext"] = context
    else:
        context = container.security_context
        if context is None:
            container.security_context = context = {}
    if isinstance(context, dict):
        asked = bool(context.get("privileged") or context.get("allowPrivilegeEscalation"))
        context.update(privileged=False, allowPrivilegeEscalation=False)
        return asked
    asked = bool(context.privileged or context.allow_privilege_escalation)
    context.privileged = False
    context.allow_privilege_escalation = False
    return asked
