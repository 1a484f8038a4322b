"""AIInfnSpawner's profiles (:mod:`.profiles`): their settings, the spawn form, and the check of
the user's choice, for the form and the REST API alike (HTTP 400 naming the unknown profile,
option or out-of-range value). The counts come from the shared watch cache: rendering the form
makes no Kubernetes request (see :mod:`.kuberequests` and ``/hub/metrics``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tornado import web
from traitlets import Any as AnyTrait
from traitlets import Bool, Dict, Float, Integer, List, Unicode, default, validate
from traitlets.config import LoggingConfigurable

from ..placement import GpuPool, Placer, Site
from .clusterview import ClusterView, GpuCount
from .kuberequests import activity
from .profiles import (
    OptionsError,
    ProfileSettings,
    Resources,
    Where,
    build_profiles,
    chosen_where,
    remote_note,
    validate_options,
)
from .sessions import claim_volumes


class ProfileForm(LoggingConfigurable):
    """Mixed into AIInfnSpawner (before KubeSpawner): the profiles, the form, the options check.
    Its options are set as AIInfnSpawner's (``c.AIInfnSpawner.cpu_profiles``)."""

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
    default_profile = Unicode(
        "",
        help="Slug of the profile preselected on the form and used when a spawn names none "
        "(REST API); empty: the first CPU profile.",
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

    #: The profile list of the start under way (one for the options check, the overrides and
    #: the placement), None between starts.
    _start_profiles: list[dict[str, Any]] | None
    #: The site and GPU model of a GPU server, for the progress page's counts.
    _gpu: tuple[Site, GpuPool] | None

    if TYPE_CHECKING:  # what the mixin reads of the spawner it is mixed into
        placer: Placer
        interactive_offload: bool
        offload_scratch_claims: bool
        copy_back_max_bytes: int
        profile_list: Any
        tolerations: Any
        volumes: Any

        @property
        def cluster(self) -> ClusterView: ...

        def local_sites(self) -> list[Site]: ...

        def count_gpus(self, site: Site, pool: GpuPool) -> GpuCount | None: ...

        def _sorted_dict_values(self, values: Any) -> list[Any]: ...

        def _get_initialized_profile_list(self, profile_list: Any) -> list[dict[str, Any]]: ...

        def _render_options_form(self, profile_list: Any) -> str: ...

        def _get_profile(self, slug: Any, profile_list: Any) -> dict[str, Any]: ...

        def _load_profile(self, slug: Any, profile_list: Any) -> None: ...

    @default("options_form")
    def _options_form_default(self):
        return self._render_profiles_form

    @default("additional_profile_form_template_paths")
    def _form_templates_default(self) -> list[str]:
        # our form.html (choices as buttons, folded details, the remote-site note)
        return [str(Path(__file__).with_name("templates"))]

    @default("apply_user_options")
    def _apply_user_options_default(self):
        return ProfileForm._apply_user_options_hook

    @validate("cpu_profiles")
    def _check_cpu_profiles(self, proposal: Any) -> dict:
        for slug, spec in proposal.value.items():
            if not isinstance(spec, dict) or not {"cpu", "memory"} <= set(spec):
                raise ValueError(f"cpu_profiles[{slug!r}] needs cpu and memory, got {spec!r}")
            Resources.parse(spec["cpu"], spec["memory"], f"cpu_profiles[{slug!r}]")
        return proposal.value

    # ---------------------------------------------------------------------------- the profiles

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
    def _apply_user_options_hook(spawner: ProfileForm, user_options: Any) -> None:
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
