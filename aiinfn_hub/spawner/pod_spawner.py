"""What AIInfnSpawner gives the user's server: the jobs service's URL and the server
extension's mode, where it runs (:class:`~aiinfn_hub.serverplace.ServerPlace`), and no
Kubernetes credentials or privileges; an Automatic server's pod is placed on the site chosen
(:func:`.sessions.place_pod`)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from traitlets import Enum, Unicode, default
from traitlets.config import LoggingConfigurable

from ..placement import GpuPool, Placer, Site
from ..serverplace import FallBackStep, ServerPlace
from . import copyback
from .sessions import claim_volumes, place_pod


class ServerPod(LoggingConfigurable):
    """Mixed into AIInfnSpawner (before KubeSpawner): the user's server's environment and pod,
    from what KubeSpawner makes of them. Its options are set as AIInfnSpawner's
    (``c.AIInfnSpawner.jobs_service_url``)."""

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

    #: Where this start puts the server, as its environment says (set by server_env).
    _place: ServerPlace | None
    #: The home claim's pod volume and mount path, before they turn into scratch at a remote
    #: site (the copy-back's destination).
    _home: tuple[Any, str] | None

    if TYPE_CHECKING:  # what the mixin reads of the spawner it is mixed into
        api: Any
        placer: Placer
        site_name: str
        volumes: Any
        notebook_dir: str | None
        offload_annotations: dict[str, str]
        offload_scratch_claims: bool
        gpu_tolerations: list[dict[str, Any]]
        copy_back_max_bytes: int
        _session: tuple[Site, GpuPool | None] | None
        _log_name: str

        def _note(self, message: str) -> None: ...

        def _fallbacks(self) -> list[tuple[str, str]]: ...

        def _sorted_dict_values(self, values: Any) -> list[Any]: ...

    @default("automount_service_account_token")
    def _automount_default(self) -> bool:
        return False

    @default("allow_privilege_escalation")
    def _allow_privilege_escalation_default(self) -> bool:
        return False

    def server_env(self) -> dict[str, str]:
        """What the server's environment adds to KubeSpawner's."""
        env = {"AIINFN_HUB_MODE": self.server_mode}
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

    def shape_pod(self, pod: Any) -> Any:
        """KubeSpawner's pod ``pod``, without credentials or privileges and, for an Automatic
        server, placed on the site chosen (what that changes is said on the progress page)."""
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
