"""AIInfnSpawner: KubeSpawner that knows the AI_INFN sites.

- Profiles come from the site catalogue: CPU sizes, one profile per local GPU model showing
  live free/total GPUs, and an "automatic" profile where the placement engine chooses.
- GPU counts come from one shared node and pod watch (:class:`ClusterView`): rendering the
  form makes no Kubernetes request.
- The GPU model is enforced with *required* node affinity.
- User options are validated before start (form and REST API alike): HTTP 400 naming the
  profile, option or value at fault.
- The user's server gets the jobs service URL and its profile's resources in its
  environment, and no Kubernetes credentials.
- The automatic profile falls back: a server not running at its site within the site's
  start timeout is removed and started at the next site of the plan, and the progress page
  says where, why, and that it fell back.
"""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import AsyncIterator
from typing import Any

from kubespawner import KubeSpawner
from tornado import web
from traitlets import Bool, Dict, Integer, List, Unicode, default

from .jobs.cache import Reflector
from .jobs.kube import Kube
from .placement import JobRequest, PlacementConfig, Placer, Site

AUTO = "automatic"
GPU_RESOURCE = "nvidia.com/gpu"


class ClusterView:
    """Nodes and pods of the hub's namespace, watched once and shared by every spawner."""

    _instances: dict[int, ClusterView] = {}

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.nodes = Reflector(kube, "node", kube.core.list_node)
        self.pods = Reflector(kube, "pod", kube.core.list_namespaced_pod, (kube.namespace,))
        self.nodes.start()
        self.pods.start()

    @classmethod
    def shared(cls, api_client: Any, namespace: str) -> ClusterView:
        """The view for this event loop (started on first use)."""
        key = id(asyncio.get_running_loop())
        view = cls._instances.get(key)
        if view is None:
            view = cls._instances[key] = cls(Kube(api_client, namespace))
        return view

    async def ready(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(
            asyncio.gather(self.nodes.synced.wait(), self.pods.synced.wait()), timeout
        )

    @classmethod
    async def stop_all(cls) -> None:
        for view in list(cls._instances.values()):
            await view.nodes.stop()
            await view.pods.stop()
        cls._instances.clear()

    def gpus(self, label: str, product: str) -> tuple[int, int]:
        """``(free, total)`` GPUs on ready nodes labelled ``label=product``."""
        used: dict[str, float] = {}
        for pod in self.pods.objects.values():
            node = (pod.get("spec") or {}).get("nodeName")
            if not node or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            for container in pod["spec"].get("containers") or ():
                limits = (container.get("resources") or {}).get("limits") or {}
                requests = (container.get("resources") or {}).get("requests") or {}
                count = limits.get(GPU_RESOURCE) or requests.get(GPU_RESOURCE) or 0
                used[node] = used.get(node, 0) + float(count)
        free = total = 0
        for node in self.nodes.objects.values():
            labels = node["metadata"].get("labels") or {}
            if labels.get(label) != product:
                continue
            capacity = int(
                float(((node.get("status") or {}).get("allocatable") or {}).get(GPU_RESOURCE, 0))
            )
            total += capacity
            ready = any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (node.get("status") or {}).get("conditions") or ()
            )
            if ready:
                free += max(0, capacity - int(used.get(node["metadata"]["name"], 0)))
        return free, total


class AIInfnSpawner(KubeSpawner):
    """KubeSpawner with site-aware GPU profiles, validated options and automatic fallback."""

    cpu_profiles = List(
        Dict(),
        default_value=[
            {"slug": "cpu-small", "display_name": "CPU, small", "cpu": 1, "memory": "4Gi"},
            {"slug": "cpu-large", "display_name": "CPU, large", "cpu": 4, "memory": "16Gi"},
        ],
        help="CPU-only profiles: dicts with slug, display_name, cpu and memory "
        "(guaranteed and limit). The first is the default profile.",
    ).tag(config=True)

    gpu_profile_cpu = Integer(4, help="CPUs given with a GPU profile.").tag(config=True)
    gpu_profile_memory = Unicode("32Gi", help="Memory given with a GPU profile.").tag(config=True)
    gpu_counts = List(
        Integer(),
        default_value=[1, 2, 4],
        help="GPU counts users may choose in GPU profiles (capped by the GPUs per node).",
    ).tag(config=True)

    automatic_profile = Bool(
        True,
        help="Offer the 'automatic' profile, where the placement engine chooses the site.",
    ).tag(config=True)
    interactive_offload = Bool(
        False,
        help="Let the automatic profile run GPU sessions at remote sites (CINECA Leonardo). "
        "Only enable it where interLink's mesh or VPN makes the remote server reachable.",
    ).tag(config=True)
    offload_annotations = Dict(
        {"interlink.eu/pod-vpn": "true"},
        help="Pod annotations that make an offloaded server reachable (interLink's VPN or "
        "mesh, e.g. interlink.eu/pod-vpn).",
    ).tag(config=True)
    site_start_timeouts = Dict(
        {"leonardo": 300, "tier1": 300, "local": 600},
        help="Seconds the automatic profile waits for the server at each site before "
        "falling back to the next. Keep their sum under start_timeout.",
    ).tag(config=True)

    jobs_service_url = Unicode(
        "",
        help="URL the user's server uses to reach the jobs service (AIINFN_JOBS_URL), "
        "e.g. http://hub:10101/services/aiinfn-jobs/ .",
    ).tag(config=True)
    server_mode = Unicode(
        "hub", help="Mode of the user's server extension (AIINFN_HUB_MODE): hub or standalone."
    ).tag(config=True)

    @default("profile_list")
    def _profile_list_default(self):
        return AIInfnSpawner._profiles

    @default("apply_user_options")
    def _apply_user_options_default(self):
        return AIInfnSpawner._validate_user_options_hook

    @default("automount_service_account_token")
    def _automount_default(self) -> bool:
        return False

    @default("allow_privilege_escalation")
    def _allow_privilege_escalation_default(self) -> bool:
        return False

    @default("start_timeout")
    def _start_timeout_default(self) -> int:
        return 900

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.placer: Placer = PlacementConfig(parent=self).placer()
        self._site: Site | None = None
        self._gpu_product: str | None = None
        self._notes: asyncio.Queue[str] = asyncio.Queue()
        self.chosen_site: str | None = None

    # ------------------------------------------------------------------ cluster view

    @property
    def cluster(self) -> ClusterView:
        return ClusterView.shared(self.api.api_client, self.namespace)

    def local_site(self) -> Site:
        return next(s for s in self.placer.sites.values() if not s.is_offload)

    # ------------------------------------------------------------------ profiles

    async def _profiles(self) -> list[dict[str, Any]]:
        """The profile list, from the catalogue and the shared cache (no API request)."""
        await self.cluster.ready()
        local = self.local_site()
        profiles: list[dict[str, Any]] = []
        for index, cpu in enumerate(self.cpu_profiles):
            profiles.append(
                {
                    "slug": cpu["slug"],
                    "display_name": cpu["display_name"],
                    "description": f"{cpu['cpu']} CPUs, {cpu['memory']} memory, no GPU",
                    "default": index == 0,
                    "kubespawner_override": {
                        "cpu_guarantee": float(cpu["cpu"]),
                        "cpu_limit": float(cpu["cpu"]),
                        "mem_guarantee": cpu["memory"],
                        "mem_limit": cpu["memory"],
                        "environment": {
                            "AIINFN_DEFAULT_CPU": str(cpu["cpu"]),
                            "AIINFN_DEFAULT_MEMORY": cpu["memory"],
                            "AIINFN_DEFAULT_GPUS": "0",
                        },
                    },
                }
            )
        for pool in local.capabilities.gpus:
            free, total = self.cluster.gpus(local.wiring.gpu_selector_key, pool.product)
            counts = [n for n in self.gpu_counts if n <= pool.per_node] or [1]
            profiles.append(
                {
                    "slug": gpu_slug(pool.model),
                    "display_name": f"GPU: {pool.description or pool.model}",
                    "description": f"{free} of {total} {pool.model} GPUs free now",
                    "gpu": {"model": pool.model, "free": free, "total": total},
                    "profile_options": {
                        "gpus": {
                            "display_name": "GPUs",
                            "choices": {
                                str(n): {
                                    "display_name": f"{n} GPU{'s' if n > 1 else ''}",
                                    "default": n == counts[0],
                                    "kubespawner_override": {
                                        "extra_resource_limits": {GPU_RESOURCE: str(n)},
                                        "extra_resource_guarantees": {GPU_RESOURCE: str(n)},
                                        "environment": {"AIINFN_DEFAULT_GPUS": str(n)},
                                    },
                                }
                                for n in counts
                            },
                        }
                    },
                    "kubespawner_override": {
                        "cpu_guarantee": float(self.gpu_profile_cpu),
                        "cpu_limit": float(self.gpu_profile_cpu),
                        "mem_guarantee": self.gpu_profile_memory,
                        "mem_limit": self.gpu_profile_memory,
                        "node_affinity_required": [
                            {
                                "matchExpressions": [
                                    {
                                        "key": local.wiring.gpu_selector_key,
                                        "operator": "In",
                                        "values": [pool.product],
                                    }
                                ]
                            }
                        ],
                        "environment": {
                            "AIINFN_DEFAULT_CPU": str(self.gpu_profile_cpu),
                            "AIINFN_DEFAULT_MEMORY": self.gpu_profile_memory,
                            "AIINFN_DEFAULT_GPU_MODEL": pool.model,
                        },
                    },
                }
            )
        if self.automatic_profile:
            where = (
                "CINECA Leonardo when it can serve, else a local GPU"
                if self.interactive_offload
                else "local resources"
            )
            profiles.append(
                {
                    "slug": AUTO,
                    "display_name": "Automatic",
                    "description": f"the system chooses where your server runs: {where}",
                    "profile_options": {
                        "gpus": {
                            "display_name": "GPUs",
                            "choices": {
                                str(n): {"display_name": str(n), "default": n == 0}
                                for n in [0, *self.gpu_counts]
                            },
                        }
                    },
                    "kubespawner_override": {
                        "cpu_guarantee": float(self.gpu_profile_cpu),
                        "cpu_limit": float(self.gpu_profile_cpu),
                        "mem_guarantee": self.gpu_profile_memory,
                        "mem_limit": self.gpu_profile_memory,
                    },
                }
            )
        return profiles

    # ------------------------------------------------------------------ validation

    @staticmethod
    async def _validate_user_options_hook(spawner: AIInfnSpawner, user_options: dict) -> None:
        await spawner.validate_user_options(user_options or {})

    async def validate_user_options(self, options: dict[str, Any]) -> None:
        """HTTP 400, naming what is wrong, for an unknown profile, option or value."""
        if not isinstance(options, dict):
            raise web.HTTPError(400, "user options must be an object")
        profiles = await self._profiles()
        slug = options.get("profile")
        if slug in (None, ""):
            return
        profile = next((p for p in profiles if p["slug"] == slug), None)
        if profile is None:
            raise web.HTTPError(
                400,
                f"unknown profile {slug!r}; choose one of: "
                + ", ".join(p["slug"] for p in profiles),
            )
        declared = profile.get("profile_options") or {}
        prefix = f"profile-option-{slug}--"
        for key, value in options.items():
            if key == "profile":
                continue
            name = key[len(prefix) :] if key.startswith(prefix) else key
            option = declared.get(name)
            if option is None:
                known = ", ".join(declared) or "none"
                raise web.HTTPError(
                    400, f"profile {slug!r} has no option {name!r} (its options: {known})"
                )
            if str(value) not in option["choices"]:
                raise web.HTTPError(
                    400,
                    f"{value!r} is out of range for {option['display_name']} in profile "
                    f"{slug!r}; choose one of: {', '.join(option['choices'])}",
                )

    # ------------------------------------------------------------------ environment and pod

    def get_env(self) -> dict[str, str]:
        env = super().get_env()
        env["AIINFN_HUB_MODE"] = self.server_mode
        if self.jobs_service_url:
            env["AIINFN_JOBS_URL"] = self.jobs_service_url
        if self.chosen_site:
            env["AIINFN_SITE"] = self.chosen_site
        return env

    async def get_pod_manifest(self):
        pod = await super().get_pod_manifest()
        pod.spec.automount_service_account_token = False
        for container in pod.spec.containers:
            context = container.security_context
            if context is not None:
                context.privileged = False
                context.allow_privilege_escalation = False
        if self._site is not None:
            self._place(pod, self._site)
        return pod

    def _place(self, pod: Any, site: Site) -> None:
        """Send the pod to ``site``: its node selector, tolerations and annotations."""
        from kubernetes_asyncio.client import V1Toleration

        selector = dict(pod.spec.node_selector or {})
        selector.update(site.wiring.node_selector)
        gpus = self._requested_gpus()
        if gpus and site.capabilities.gpus:
            pool = site.capabilities.gpu_pool(None)
            selector[site.wiring.gpu_selector_key] = pool.product or pool.model
            for container in pod.spec.containers[:1]:
                resources = container.resources
                resources.limits = {**(resources.limits or {}), GPU_RESOURCE: str(gpus)}
                resources.requests = {**(resources.requests or {}), GPU_RESOURCE: str(gpus)}
        pod.spec.node_selector = selector
        tolerations = list(pod.spec.tolerations or [])
        tolerations += [V1Toleration(**_snake(t)) for t in site.wiring.tolerations]
        pod.spec.tolerations = tolerations or None
        annotations = dict(pod.metadata.annotations or {})
        if site.is_offload:
            annotations.update(self.offload_annotations)
        pod.metadata.annotations = annotations
        labels = dict(pod.metadata.labels or {})
        labels["aiinfn.infn.it/site"] = site.name
        pod.metadata.labels = labels

    def _requested_gpus(self) -> int:
        options = self.user_options or {}
        value = options.get(f"profile-option-{AUTO}--gpus", options.get("gpus", 0))
        try:
            return int(value)
        except (TypeError, ValueError):
            return 0

    # ------------------------------------------------------------------ automatic placement

    def session_plan(self) -> list[Site]:
        """Where the automatic profile tries to run this server, in order."""
        gpus = self._requested_gpus()
        request = JobRequest(
            cpu=float(self.gpu_profile_cpu),
            gpus=gpus,
            needs_inbound_network=not self.interactive_offload,
        )
        health = None
        if self.cluster.nodes.synced.is_set():
            from .jobs.signals import site_health

            nodes = list(self.cluster.nodes.objects.values())
            health = {s.name: site_health(s, nodes) for s in self.placer.sites.values()}
        plan = self.placer.plan(request, health)
        for excluded in plan.ruled_out:
            if excluded.site.name == "leonardo" and gpus:
                self._notes.put_nowait(f"not at {excluded.site.display_name}: {excluded.reason}")
        return [choice.site for choice in plan.sites]

    async def _start(self):
        if (self.user_options or {}).get("profile") != AUTO:
            return await super()._start()
        await self.cluster.ready()
        sites = self.session_plan()
        overall = self.start_timeout
        try:
            for index, site in enumerate(sites):
                self._site = site
                self.chosen_site = site.name
                wait = int(self.site_start_timeouts.get(site.name, overall))
                self._notes.put_nowait(f"starting your server at {site.display_name}")
                self.start_timeout = wait
                try:
                    return await super()._start()
                except TimeoutError:
                    if index + 1 == len(sites):
                        raise
                    following = sites[index + 1]
                    self._notes.put_nowait(
                        f"{site.display_name} did not start your server within {wait} s; "
                        f"falling back to {following.display_name}"
                    )
                    self.log.info("%s fell back from %s", self._log_name, site.name)
                    self.start_timeout = overall
                    await self.stop(now=True)
        finally:
            self.start_timeout = overall
        raise TimeoutError("no site could start the server")

    # ------------------------------------------------------------------ progress in plain words

    async def progress(self) -> AsyncIterator[dict[str, Any]]:
        stream = super().progress().__aiter__()
        pending: asyncio.Task | None = None
        while True:
            while not self._notes.empty():
                yield {"progress": 50, "message": self._notes.get_nowait()}
            if pending is None:
                pending = asyncio.ensure_future(stream.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=0.5)
            if not done:
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                while not self._notes.empty():
                    yield {"progress": 90, "message": self._notes.get_nowait()}
                return
            pending = None
            event = dict(event)
            event["raw_message"] = event.get("message", "")
            event["message"] = self.plain_words(event.get("message", ""))
            yield event

    def plain_words(self, message: str) -> str:
        """A Kubernetes event message as users understand it."""
        if "Insufficient nvidia.com/gpu" in message:
            model, free, total = self._gpu_availability()
            return f"waiting for a GPU: {free} of {total} {model} free".replace("  ", " ")
        if "kueue" in message.lower() and (
            "quota" in message.lower() or "admission" in message.lower()
        ):
            return "queued by Kueue: waiting for quota"
        if "Remote pod submitted" in message:
            return "submitted to the remote site's batch queue; waiting for it to start"
        if match := re.search(r"Successfully assigned \S+ to (\S+)", message):
            return f"placed on node {match.group(1)}"
        if "untolerated taint" in message or "didn't match Pod's node affinity" in message:
            return "waiting for a node that fits the profile"
        if message.startswith("Pulling image"):
            return "downloading the software image"
        if message.startswith("Started container"):
            return "starting JupyterLab"
        return message

    def _gpu_availability(self) -> tuple[str, int, int]:
        local = self.local_site()
        slug = (self.user_options or {}).get("profile", "")
        for pool in local.capabilities.gpus:
            if gpu_slug(pool.model) == slug or (
                slug == AUTO and pool is local.capabilities.gpus[0]
            ):
                free, total = self.cluster.gpus(local.wiring.gpu_selector_key, pool.product)
                return pool.model, free, total
        return "", 0, 0


def gpu_slug(model: str) -> str:
    """``A100-MIG-1g.10gb`` -> ``gpu-a100-mig-1g-10gb``."""
    return "gpu-" + re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")


def _snake(data: dict[str, Any]) -> dict[str, Any]:
    return {re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower(): copy.deepcopy(v) for k, v in data.items()}
