"""The job model: a validated request (:class:`JobSpec`), states, and attempts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..errors import BadRequest, TooLarge
from ..placement import JobRequest, Placer, RequestError
from ..placement.sites import VOLUME_TYPES

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
#: A name a volume may be mounted under (one path segment, as Kubernetes object names are).
VOLUME_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")
SCRIPT_KINDS = {"notebook": ".ipynb", "python": ".py", "shell": ".sh"}
MAX_COMPLETIONS = 1000


class State(str, Enum):
    """Where a job is in its life."""

    QUEUED = "queued"
    ADMITTED = "admitted"
    RUNNING = "running"
    FALLING_BACK = "falling_back"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (State.SUCCEEDED, State.FAILED, State.CANCELLED)


class Outcome(str, Enum):
    """How an attempt at a site ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    FELL_BACK = "fell_back"
    CANCELLED = "cancelled"


class Blame(str, Enum):
    """Whose doing an attempt's failure was: the site's infrastructure (the remote
    submission failed, the site lost the job, its node lost the connection) or the user's
    own code. Recorded with the attempt; sites' circuit breakers count the site's."""

    SITE = "site"
    USER = "user"


@dataclass(frozen=True)
class Script:
    """A staged file: a notebook, Python script or shell script, shipped with the job."""

    path: str
    kind: str
    content: str
    args: tuple[str, ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class JobSpec:
    """What a user submitted, validated."""

    name: str
    request: JobRequest
    command: tuple[str, ...] = ()
    script: Script | None = None
    image: str | None = None
    completions: int = 1
    parallelism: int = 1
    env: Mapping[str, str] = field(default_factory=dict)
    client_request_id: str | None = None
    site: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in the job record and returned by the API."""
        resources = self.request.to_dict()
        data: dict[str, Any] = {
            "name": self.name,
            "command": list(self.command) or None,
            "image": self.image,
            "resources": {k: resources[k] for k in ("cpu", "memory", "gpus", "gpu_model")},
            "walltime": resources["walltime"],
            "volumes": resources["volumes"],
            "needs_inbound_network": self.request.needs_inbound_network,
            "local_only": self.request.local_only,
            "completions": self.completions,
            "parallelism": self.parallelism,
            "env": dict(self.env),
            "client_request_id": self.client_request_id,
            "site": self.site,
        }
        if self.script:
            data["script"] = {
                "path": self.script.path,
                "kind": self.script.kind,
                "args": list(self.script.args),
                "parameters": dict(self.script.parameters),
            }
        return data


def completions_of(spec: Mapping[str, Any]) -> int:
    """How many completions a stored request (a job's ``spec``) asks for; 1 for a single job."""
    return int(spec.get("completions") or 1)


def default_name(text: str) -> str:
    """A valid job name from a file name or command word, for requests that give none."""
    name = re.sub(r"[^A-Za-z0-9 ._-]+", "-", text).lstrip(" ._-")
    return name[:63] or "job"


def _text(data: Mapping[str, Any], key: str, default: str | None = None) -> str | None:
    value = data.get(key, default)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{key} must be text, got {value!r}", key)
    return value


def _count(data: Mapping[str, Any], key: str, default: int) -> int:
    value = data.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COMPLETIONS:
        raise BadRequest(f"{key} must be a whole number from 1 to {MAX_COMPLETIONS}", key)
    return value


SPEC_FIELDS = {
    "name",
    "command",
    "script",
    "image",
    "resources",
    "walltime",
    "completions",
    "parallelism",
    "env",
    "volumes",
    "needs_inbound_network",
    "local_only",
    "client_request_id",
    "site",
}


def parse_spec(data: Any, placer: Placer, max_staged_bytes: int) -> JobSpec:
    """Validate a job request; raises :class:`BadRequest` naming the field and the fix."""
    if not isinstance(data, Mapping):
        raise BadRequest("the body must be a JSON object describing the job")
    unknown = sorted(set(data) - SPEC_FIELDS)
    if unknown:
        raise BadRequest(
            f"unknown field {unknown[0]!r}; known fields: {', '.join(sorted(SPEC_FIELDS))}",
            unknown[0],
        )
    command = data.get("command")
    script_data = data.get("script")
    if (command is None) == (script_data is None):
        raise BadRequest(
            "give exactly one of 'command' (a list of words) or 'script' (a staged file)",
            "command",
        )
    script = None
    if command is not None:
        if (
            not isinstance(command, list)
            or not command
            or not all(isinstance(word, str) and word for word in command)
        ):
            raise BadRequest(
                'command must be a non-empty list of words, e.g. ["python", "x.py"]', "command"
            )
        program = command[0].rsplit("/", 1)[-1]
    else:
        script = _parse_script(script_data, max_staged_bytes)
        program = script.filename
    resources = data.get("resources") or {}
    if not isinstance(resources, Mapping):
        raise BadRequest(
            "resources must be an object with cpu, memory, gpus, gpu_model", "resources"
        )
    extra = sorted(set(resources) - {"cpu", "memory", "gpus", "gpu_model"})
    if extra:
        raise BadRequest(
            f"unknown resource {extra[0]!r}; resources are cpu, memory, gpus, gpu_model",
            f"resources.{extra[0]}",
        )
    try:
        request = placer.parse(
            {
                **resources,
                "walltime": data.get("walltime"),
                "volumes": data.get("volumes") or [],
                "needs_inbound_network": data.get("needs_inbound_network", False),
                "local_only": data.get("local_only", False),
            }
        )
    except RequestError as exc:
        where = exc.field if exc.field in ("walltime", "volumes") else f"resources.{exc.field}"
        if exc.field in ("needs_inbound_network", "local_only"):
            where = exc.field
        raise BadRequest(f"{where}: {exc.message}", where) from None
    _check_volume_names(request)
    name = _text(data, "name") or default_name(program)
    if not NAME_RE.match(name):
        raise BadRequest(
            "name must be 1 to 63 letters, digits, spaces, '.', '_' or '-', "
            "starting with a letter or digit",
            "name",
        )
    env = data.get("env") or {}
    if not isinstance(env, Mapping) or not all(
        isinstance(k, str) and ENV_NAME_RE.match(k) and isinstance(v, str) for k, v in env.items()
    ):
        raise BadRequest("env must map variable names (letters, digits, '_') to text values", "env")
    completions = _count(data, "completions", 1)
    parallelism = _count(data, "parallelism", min(completions, 1) if completions else 1)
    if parallelism > completions:
        raise BadRequest("parallelism cannot exceed completions", "parallelism")
    site = _text(data, "site")
    if site is not None and site not in placer.sites:
        raise BadRequest(f"unknown site {site!r}; sites are {', '.join(placer.sites)}", "site")
    request_id = _text(data, "client_request_id")
    if request_id is not None and not 1 <= len(request_id) <= 128:
        raise BadRequest("client_request_id must be 1 to 128 characters", "client_request_id")
    image = _text(data, "image")
    return JobSpec(
        name=name,
        request=request,
        command=tuple(command or ()),
        script=script,
        image=image or None,
        completions=completions,
        parallelism=parallelism,
        env=dict(env),
        client_request_id=request_id,
        site=site,
    )


def _check_volume_names(request: JobRequest) -> None:
    """A ConfigMap or Secret volume names the object; any name must be one path segment."""
    for need in request.volumes:
        if need.type in ("configmap", "secret") and not need.name:
            raise BadRequest(
                f"volumes: give the name of the shared {VOLUME_TYPES[need.type]}, "
                f"e.g. '{need.type}:<name>'",
                "volumes",
            )
        if need.name and need.type != "pvc" and not VOLUME_NAME_RE.match(need.name):
            raise BadRequest(
                f"volumes: {need.name!r:.80} is not a volume name; use letters, digits, "
                "'.', '_' or '-', starting with a letter or digit",
                "volumes",
            )


def _parse_script(data: Any, max_staged_bytes: int) -> Script:
    if not isinstance(data, Mapping):
        raise BadRequest("script must be an object with path, content and optional args", "script")
    path = data.get("path")
    path = path.strip() if isinstance(path, str) else ""
    filename = path.rsplit("/", 1)[-1]
    if not filename or filename == "." or filename.startswith("..") or CONTROL_RE.search(path):
        raise BadRequest("script.path must name a file, e.g. 'analysis/train.py'", "script.path")
    if path.startswith("/") or ".." in path.split("/"):
        raise BadRequest(
            "script.path must be relative to your home directory, without '..'", "script.path"
        )
    kind = data.get("kind")
    if kind is None:
        kind = next((k for k, suffix in SCRIPT_KINDS.items() if path.endswith(suffix)), None)
    if kind not in SCRIPT_KINDS:
        raise BadRequest(
            "script.kind must be notebook, python or shell (or use a .ipynb, .py or .sh file)",
            "script.kind",
        )
    content = data.get("content")
    if not isinstance(content, str):
        raise BadRequest("script.content must be the file's text", "script.content")
    size = len(content.encode())
    if size > max_staged_bytes:
        raise TooLarge(
            f"the file is {size:,} bytes, over the {max_staged_bytes:,}-byte limit for files "
            "shipped with a job; keep large data in your home volume and run the job locally "
            "(local_only), or read it from storage inside the job",
            "script.content",
        )
    args = data.get("args") or []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise BadRequest("script.args must be a list of text arguments", "script.args")
    parameters = data.get("parameters") or {}
    if not isinstance(parameters, Mapping):
        raise BadRequest("script.parameters must be an object of name: value", "script.parameters")
    return Script(path, kind, content, tuple(args), dict(parameters))
