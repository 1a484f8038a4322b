"""The spawn form's profiles, built from the site catalogue, and the check of users' choices.

Pure functions: no Kubernetes, no traitlets. Profiles use KubeSpawner's ``profile_list`` shape
(slug, display_name, description, kubespawner_override, profile_options with choices), so
KubeSpawner's form template and override machinery apply them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..placement import GpuPool, Site
from ..placement.capacity import GPU_RESOURCE
from ..placement.quantities import format_cpu, format_memory, parse_cpu, parse_memory
from .clusterview import GpuCount, display_model

AUTOMATIC = "automatic"
GPUS = "gpus"
#: The Automatic profile's option that keeps the server at a local site (its home kept).
WHERE = "where"


class Where(str, Enum):
    """The Automatic profile's choice of sites."""

    LOCAL = "local"  # local sites only: the home volume is mounted
    ANYWHERE = "any"  # remote sites too, where the home is a scratch folder


class OptionsError(ValueError):
    """User options that cannot be used; the message names what is wrong and how to fix it."""


@dataclass(frozen=True)
class Resources:
    """CPUs and memory of a server (guarantee = limit)."""

    cpu: float
    memory: int  # bytes

    @classmethod
    def parse(cls, cpu: object, memory: object, where: str) -> Resources:
        try:
            return cls(parse_cpu(cpu), parse_memory(memory))
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None

    def override(self) -> dict[str, Any]:
        return {
            "cpu_guarantee": self.cpu,
            "cpu_limit": self.cpu,
            "mem_guarantee": self.memory,
            "mem_limit": self.memory,
        }

    def describe(self) -> str:
        cpus = f"{self.cpu:g} CPU" + ("" if self.cpu == 1 else "s")
        return f"{cpus}, {format_memory(self.memory)} memory"

    def environment(self) -> dict[str, str]:
        return {
            "AIINFN_DEFAULT_CPU": format_cpu(self.cpu),
            "AIINFN_DEFAULT_MEMORY": format_memory(self.memory),
        }


@dataclass(frozen=True)
class ProfileSettings:
    """What the admin configured (the spawner's traits, validated)."""

    cpu_profiles: Mapping[str, tuple[str, str, Resources]]  # slug -> (name, description, res)
    gpu_resources: Resources
    gpu_counts: tuple[int, ...]
    gpu_tolerations: tuple[Mapping[str, Any], ...] = ()
    base_tolerations: tuple[Mapping[str, Any], ...] = ()
    automatic: bool = True
    automatic_resources: Resources = Resources(4, 16 * 2**30)
    automatic_where: str = ""
    #: What a remote server's home becomes, said before Start; empty: no remote site can run
    #: an Automatic server on this hub, and the form offers no choice of sites.
    remote_note: str = ""
    #: Whether Automatic may go remote unless the user keeps it local (else: opt-in).
    remote_by_default: bool = False
    default_profile: str = ""
    extra_profiles: tuple[Mapping[str, Any], ...] = field(default=())


def gpu_slug(model: str) -> str:
    """``A100-MIG-1g.10gb`` -> ``gpu-a100-mig-1g-10gb``."""
    return "gpu-" + re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")


def _plural(n: int) -> str:
    return f"{n} GPU" + ("" if n == 1 else "s")


def gpu_count_option(counts: Iterable[int]) -> dict[str, Any]:
    """The ``gpus`` option: one choice per count, each setting the GPU resources."""
    choices: dict[str, Any] = {}
    for index, n in enumerate(counts):
        env = {"AIINFN_DEFAULT_GPUS": str(n)}
        override: dict[str, Any] = {"environment": env}
        if n:
            override["extra_resource_limits"] = {GPU_RESOURCE: str(n)}
            override["extra_resource_guarantees"] = {GPU_RESOURCE: str(n)}
        name = _plural(n) if n else "no GPU"
        choices[str(n)] = {
            "display_name": name,
            "default": index == 0,
            "kubespawner_override": override,
        }
    # complete as KubeSpawner's form and override machinery expect (no free-text value)
    return {"display_name": "GPUs", "choices": choices, "unlisted_choice": {"enabled": False}}


def build_profiles(
    settings: ProfileSettings,
    local_sites: Iterable[Site],
    counts: Callable[[Site, GpuPool], GpuCount | None],
) -> list[dict[str, Any]]:
    """CPU profiles, one GPU profile per local GPU model, then the automatic profile."""
    local_sites = list(local_sites)
    home = local_sites[0] if local_sites else None
    profiles: list[dict[str, Any]] = []
    for slug, (name, description, res) in settings.cpu_profiles.items():
        env = res.environment() | {"AIINFN_DEFAULT_GPUS": "0"}
        override = res.override() | {"environment": env}
        if home is not None:
            override["node_selector"] = dict(home.wiring.node_selector)
        profiles.append(
            {
                "slug": slug,
                "display_name": name,
                "description": description or f"{res.describe()}, no GPU",
                "kubespawner_override": override,
            }
        )
    for site in local_sites:
        for pool in site.capabilities.gpus:
            profiles.append(gpu_profile(settings, site, pool, counts(site, pool)))
    if settings.automatic:
        profiles.append(automatic_profile(settings))
    profiles.extend(dict(p) for p in settings.extra_profiles)
    default = settings.default_profile or (profiles[0]["slug"] if profiles else "")
    for profile in profiles:
        profile["default"] = profile["slug"] == default
    return profiles


def gpu_profile(
    settings: ProfileSettings, site: Site, pool: GpuPool, count: GpuCount | None
) -> dict[str, Any]:
    """A profile for one GPU model of a local site, required to land on that model's nodes."""
    counts = [n for n in settings.gpu_counts if 0 < n <= pool.per_node] or [1]
    res = settings.gpu_resources
    availability = (
        f"{count.describe()} now" if count is not None else "GPU availability is being read"
    )
    model = display_model(pool.model)
    selector = dict(site.wiring.node_selector)
    tolerations = [dict(t) for t in (*settings.base_tolerations, *settings.gpu_tolerations)]
    return {
        "slug": gpu_slug(pool.model),
        "display_name": f"GPU: {pool.description or model}",
        # the largest count the choices offer, not the node's: they must agree
        "description": f"{availability}; up to {max(counts)} per server, {res.describe()}",
        "gpu": {"model": pool.model, "site": site.name}
        | ({"free": count.free, "total": count.total} if count else {}),
        "profile_options": {GPUS: gpu_count_option(counts)},
        "kubespawner_override": res.override()
        | {
            "node_selector": selector,
            # required, not preferred: a user who picks a T4 never gets another model
            "node_affinity_required": [
                {
                    "matchExpressions": [
                        {
                            "key": site.wiring.gpu_selector_key,
                            "operator": "In",
                            "values": [pool.product or pool.model],
                        }
                    ]
                }
            ],
            "tolerations": tolerations,
            "environment": res.environment() | {"AIINFN_DEFAULT_GPU_MODEL": pool.model},
        },
    }


def automatic_profile(settings: ProfileSettings) -> dict[str, Any]:
    """The profile where the placement engine chooses the site when the server starts.

    One short sentence, the sites in ``details`` (the form folds them); where a remote site
    may run the server, ``remote_note`` says before Start what its home becomes, and the
    ``where`` option lets the user keep the server local.
    """
    res = settings.automatic_resources
    counts = [0, *(n for n in settings.gpu_counts if n > 0)]
    options: dict[str, Any] = {GPUS: gpu_count_option(counts)}
    if settings.remote_note:
        options[WHERE] = where_option(remote_by_default=settings.remote_by_default)
    return {
        "slug": AUTOMATIC,
        "display_name": "Automatic: the hub chooses where",
        "description": f"{res.describe()}, at the site the hub finds best when it starts.",
        "details": settings.automatic_where,
        "remote_note": settings.remote_note,
        "profile_options": options,
        "kubespawner_override": res.override() | {"environment": res.environment()},
    }


def remote_note(remote_sites: list[str], *, scratch_home: bool, copy_back: int) -> str:
    """What the form says before Start about a server at one of ``remote_sites`` (none: no
    note); ``scratch_home``: its home claim is a scratch folder there, of which up to
    ``copy_back`` bytes of changed files are copied back when it stops."""
    if not remote_sites:
        return ""
    note = f"At a remote site ({', '.join(remote_sites)}) "
    if not scratch_home:
        return note + "the server's files are deleted when it stops."
    note += (
        "your home folder cannot be mounted: the server gets an empty scratch home, deleted "
        "when it stops."
    )
    if copy_back > 0:
        return note + (
            f" Files you create or change there, up to {format_memory(copy_back)} in all, are "
            "copied back into your home folder when it stops."
        )
    return note + " Nothing is copied back: keep the server local to keep your files."


def where_option(*, remote_by_default: bool) -> dict[str, Any]:
    """The Automatic profile's ``where`` option: local sites only, or remote ones too."""
    default = Where.ANYWHERE if remote_by_default else Where.LOCAL
    names = {
        Where.LOCAL: "Local only (home kept)",
        Where.ANYWHERE: "Remote too (scratch home)",
    }
    return {
        "display_name": "Sites",
        "choices": {
            w.value: {"display_name": names[w], "default": w is default, "kubespawner_override": {}}
            for w in Where
        },
        "unlisted_choice": {"enabled": False},
    }


def chosen_where(options: Mapping[str, Any], profile: Mapping[str, Any]) -> Where:
    """Where the user lets an Automatic server run: their choice, else the option's default;
    local when the profile offers no choice (no remote site can run it)."""
    option = (profile.get("profile_options") or {}).get(WHERE)
    if option is None:
        return Where.LOCAL
    value = options.get(WHERE)
    if value is None:
        value = next(k for k, c in option["choices"].items() if c.get("default"))
    return Where(value)


# ---------------------------------------------------------------------------------- validation


def _choice_text(value: object, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise OptionsError(f"{where} must be text or a whole number, got {value!r}")
    return str(value)


def validate_options(options: object, profiles: list[dict[str, Any]]) -> dict[str, str]:
    """``options`` checked against ``profiles``; returns them normalised (values as text).

    Raises :class:`OptionsError` naming an unknown profile, an unknown option, or a value that
    is not one of the option's choices (an unlisted value must be enabled and match its regex).
    """
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise OptionsError(
            f'user options must be a JSON object such as {{"profile": "{profiles[0]["slug"]}"}}'
            if profiles
            else "user options must be a JSON object"
        )
    slugs = [p["slug"] for p in profiles]
    slug = options.get("profile")
    if slug in (None, ""):
        profile = next((p for p in profiles if p.get("default")), profiles[0] if profiles else None)
    else:
        if not isinstance(slug, str):
            raise OptionsError(f"profile must be a profile's name (text), got {slug!r}")
        profile = next((p for p in profiles if p["slug"] == slug), None)
        if profile is None:
            raise OptionsError(f"unknown profile {slug!r}; choose one of: {', '.join(slugs)}")
    normalised: dict[str, str] = {"profile": slug} if slug else {}
    declared = (profile or {}).get("profile_options") or {}
    for key, value in options.items():
        if key == "profile":
            continue
        name, _, unlisted = key.partition("--")
        option = declared.get(name)
        where = f"profile {profile['slug']!r}" if profile else "this hub"
        if option is None or (unlisted and unlisted != "unlisted-choice"):
            known = ", ".join(declared) or "none"
            raise OptionsError(f"unknown option {key!r} for {where} (its options: {known})")
        text = _choice_text(value, f"option {name!r}")
        if unlisted:
            _check_unlisted(option, name, text, where)
        elif text not in option.get("choices", {}):
            raise OptionsError(
                f"{text!r} is out of range for option {name!r} ({option.get('display_name', name)})"
                f" of {where}: choose one of {', '.join(option['choices'])}"
            )
        normalised[key] = text
    return normalised


def _check_unlisted(option: Mapping[str, Any], name: str, value: str, where: str) -> None:
    unlisted = option.get("unlisted_choice") or {}
    if not unlisted.get("enabled"):
        raise OptionsError(
            f"option {name!r} of {where} takes only its listed choices: "
            + ", ".join(option.get("choices", {}))
        )
    regex = unlisted.get("validation_regex")
    if regex and not re.fullmatch(regex, value):
        message = unlisted.get("validation_message") or f"it must match {regex}"
        raise OptionsError(f"{value!r} is not valid for option {name!r} of {where}: {message}")
