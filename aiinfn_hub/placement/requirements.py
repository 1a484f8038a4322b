"""Job requests and the requirements detected from them: does it need a GPU, can it be offloaded."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import RequestError
from .quantities import (
    format_cpu,
    format_duration,
    format_memory,
    parse_cpu,
    parse_duration,
    parse_memory,
)
from .sites import VOLUME_TYPES, Site

#: Names users may give a volume type, mapped to the canonical one.
_VOLUME_ALIASES = {
    "pvc": "pvc",
    "persistentvolumeclaim": "pvc",
    "home": "pvc",
    "configmap": "configmap",
    "secret": "secret",
    "emptydir": "emptydir",
}
_DEFAULT_VOLUME_NAMES = {"pvc": "home"}
VOLUME_FORM = "one of pvc, configmap, secret, emptydir"


@dataclass(frozen=True, slots=True)
class VolumeNeed:
    """A volume the job mounts: its type and, optionally, its name."""

    type: str
    name: str = ""

    def describe(self) -> str:
        """E.g. ``the home volume (PVC)``."""
        label = VOLUME_TYPES[self.type]
        name = self.name or _DEFAULT_VOLUME_NAMES.get(self.type, "")
        return f"the {name} volume ({label})" if name else f"a {label} volume"

    @classmethod
    def parse(cls, value: object, field: str = "volumes") -> VolumeNeed:
        """From ``"pvc"``, ``"pvc:home"`` or ``{"type": "pvc", "name": "home"}``."""
        if isinstance(value, Mapping):
            kind, name = value.get("type"), value.get("name", "")
        elif isinstance(value, str):
            kind, _, name = value.partition(":")
        else:
            raise RequestError(f"each volume must be {VOLUME_FORM}, got {value!r}", field)
        canonical = _VOLUME_ALIASES.get(str(kind).strip().lower())
        if canonical is None:
            raise RequestError(f"unknown volume type {kind!r}; expected {VOLUME_FORM}", field)
        if not isinstance(name, str):
            raise RequestError(f"a volume name must be text, got {name!r}", field)
        return cls(canonical, name.strip())


@dataclass(frozen=True, slots=True)
class JobRequest:
    """What a user asks for. Build it with :meth:`parse` to validate user input."""

    cpu: float = 1.0
    memory: int = 2 * 2**30
    gpus: int = 0
    gpu_model: str | None = None
    walltime: int | None = None
    volumes: tuple[VolumeNeed, ...] = ()
    needs_inbound_network: bool = False
    local_only: bool = False

    FIELDS = (
        "cpu",
        "memory",
        "gpus",
        "gpu_model",
        "walltime",
        "volumes",
        "needs_inbound_network",
        "local_only",
    )

    @classmethod
    def parse(cls, data: Mapping[str, Any], gpu_models: Iterable[str] | None = None) -> JobRequest:
        """Validate user input; raises :class:`RequestError` naming the field and its form.

        ``gpu_models`` are the known models; a model is matched case-insensitively.
        """
        if not isinstance(data, Mapping):
            raise RequestError("expected an object with fields " + ", ".join(cls.FIELDS), "request")
        unknown = sorted(set(data) - set(cls.FIELDS))
        if unknown:
            raise RequestError(
                "unknown field; known fields are " + ", ".join(cls.FIELDS), unknown[0]
            )
        kwargs: dict[str, Any] = {}
        if data.get("cpu") is not None:
            kwargs["cpu"] = parse_cpu(data["cpu"])
        if data.get("memory") is not None:
            kwargs["memory"] = parse_memory(data["memory"])
        gpus = data.get("gpus", 0)
        if gpus is None:
            gpus = 0
        if isinstance(gpus, str) and gpus.strip().isdigit():
            gpus = int(gpus)
        if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 0:
            raise RequestError(f"expected a whole number of GPUs, 0 or more, got {gpus!r}", "gpus")
        kwargs["gpus"] = gpus
        model = data.get("gpu_model")
        if model not in (None, ""):
            kwargs["gpu_model"] = canonical_gpu_model(model, gpu_models)
            if gpus == 0:
                raise RequestError(
                    f"a GPU model ({model}) was given but gpus is 0: "
                    "set gpus to 1 or more, or leave the model out",
                    "gpu_model",
                )
        if data.get("walltime") not in (None, ""):
            kwargs["walltime"] = parse_duration(data["walltime"])
        volumes = data.get("volumes") or ()
        if isinstance(volumes, str | Mapping) or not isinstance(volumes, Sequence):
            raise RequestError(f"expected a list, each item {VOLUME_FORM}", "volumes")
        kwargs["volumes"] = tuple(VolumeNeed.parse(v) for v in volumes)
        for flag in ("needs_inbound_network", "local_only"):
            value = data.get(flag, False)
            if not isinstance(value, bool):
                raise RequestError(f"expected true or false, got {value!r}", flag)
            kwargs[flag] = value
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """The request in the form :meth:`parse` accepts, with readable quantities."""
        return {
            "cpu": format_cpu(self.cpu),
            "memory": format_memory(self.memory),
            "gpus": self.gpus,
            "gpu_model": self.gpu_model,
            "walltime": format_duration(self.walltime) if self.walltime else None,
            "volumes": [f"{v.type}:{v.name}" if v.name else v.type for v in self.volumes],
            "needs_inbound_network": self.needs_inbound_network,
            "local_only": self.local_only,
        }


def canonical_gpu_model(model: object, known: Iterable[str] | None) -> str:
    """The catalogue's spelling of ``model``; raises :class:`RequestError` if unknown."""
    if not isinstance(model, str) or not model.strip():
        raise RequestError(f"expected a GPU model name, got {model!r}", "gpu_model")
    if known is None:
        return model.strip()
    known = list(known)
    wanted = _model_key(model)
    for candidate in known:
        if _model_key(candidate) == wanted:
            return candidate
    raise RequestError(
        f"unknown GPU model {model!r}; known models: {', '.join(known)}", "gpu_model"
    )


def _model_key(model: str) -> str:
    return model.strip().lower().replace(" ", "").replace("-", "").replace("_", "")


@dataclass(frozen=True, slots=True)
class Requirements:
    """What was detected, each with the reason in plain words."""

    requires_gpu: bool
    gpu_reason: str
    offloadable: bool
    offload_reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "requires_gpu": self.requires_gpu,
            "gpu_reason": self.gpu_reason,
            "offloadable": self.offloadable,
            "offload_reason": self.offload_reason,
        }


def detect(request: JobRequest, sites: Sequence[Site]) -> Requirements:
    """Derive ``requires_gpu`` and ``offloadable`` from the request and the remote sites."""
    if request.gpus:
        model = f" {request.gpu_model}" if request.gpu_model else ""
        plural = "s" if request.gpus > 1 else ""
        gpu = (True, f"requires a GPU: asks for {request.gpus}{model} GPU{plural}")
    else:
        gpu = (False, "no GPU: asks for CPUs only")

    remote = [s for s in sites if s.is_offload]
    blockers: list[str] = []
    if request.local_only:
        blockers.append("you asked to keep it local")
    if not remote:
        blockers.append("no remote site is configured")
    else:
        for volume in request.volumes:
            if not any(volume.type in s.capabilities.volume_types for s in remote):
                blockers.append(f"needs {volume.describe()}, which remote sites cannot mount")
        if request.needs_inbound_network and not any(
            s.capabilities.inbound_network for s in remote
        ):
            blockers.append("needs inbound network connections, which remote sites do not accept")
    if blockers:
        offload = (False, "not offloadable: " + "; ".join(blockers))
    else:
        mounts = sorted({VOLUME_TYPES[v.type] for v in request.volumes})
        volumes = f"only {', '.join(mounts)} volumes" if mounts else "no shared volume"
        offload = (True, f"offloadable: needs {volumes} and no inbound network")
    return Requirements(gpu[0], gpu[1], offload[0], offload[1])
