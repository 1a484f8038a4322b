"""The bodies of the jobs API, typed: one TypedDict per schema of ``jobs/openapi.yaml`` (and
per object schema inline in it), so that mypy checks the code that builds them (placement's
plan and capacity, the jobs service's views, listings and answers) and the server extension
that relays them. ``tests/test_apitypes.py`` holds each one's keys, required and optional, equal
to its schema's, so the two cannot drift.

Python 3.10 has no ``NotRequired``: a body with optional keys is a ``total=False`` class
derived from one (``_...Keys``) holding its required keys.
"""

from __future__ import annotations

from typing import Any, TypedDict

from .errors import ErrorBody

__all__ = [
    "ActionView",
    "AttemptView",
    "ErrorBody",
    "EstimatedStart",
    "ExplanationDetail",
    "ExplanationView",
    "FreeTotal",
    "GpuModelCapacity",
    "JobList",
    "JobRequest",
    "JobView",
    "KueueCondition",
    "LogChunk",
    "PerJobLimits",
    "PlanReasons",
    "PlanView",
    "PodFailure",
    "ProbeBody",
    "Progress",
    "QueueEstimate",
    "RequestResources",
    "RequestScript",
    "RerunRequest",
    "ServiceSettings",
    "SiteBreakerView",
    "SiteCapacity",
    "SiteHealthView",
    "SiteList",
    "SiteQueue",
    "SiteReason",
    "SiteView",
    "WhoamiBody",
]


class ProbeBody(TypedDict):
    """``Probe``: the answer of ``/healthz`` and ``/readyz``."""

    status: str


# ---------------------------------------------------------------------- submissions


class _ScriptKeys(TypedDict):
    path: str
    content: str


class RequestScript(_ScriptKeys, total=False):
    """``JobRequest.script``: a notebook, Python or shell script shipped with the job."""

    kind: str
    args: list[str]
    parameters: dict[str, Any]


class RequestResources(TypedDict, total=False):
    """``JobRequest.resources``."""

    cpu: str | float
    memory: str | int
    gpus: int
    gpu_model: str | None


class JobRequest(TypedDict, total=False):
    """``JobRequest``: a submission (``POST /jobs``, ``POST /plan``)."""

    name: str
    command: list[str]
    script: RequestScript
    image: str | None
    resources: RequestResources
    walltime: str | int | None
    completions: int
    parallelism: int
    env: dict[str, str]
    volumes: list[str | dict[str, str]]
    needs_inbound_network: bool
    local_only: bool
    client_request_id: str
    site: str | None


class RerunRequest(TypedDict, total=False):
    """``RerunRequest``: ``POST /jobs/{id}/rerun``."""

    site: str | None


# ---------------------------------------------------------------------- plans


class _SiteReasonKeys(TypedDict):
    name: str
    reason: str


class EstimatedStart(TypedDict):
    """``EstimatedStart``: the start as a range of ISO 8601 times."""

    earliest: str
    latest: str


class QueueEstimate(TypedDict):
    """``QueueEstimate``: a job's place in a site's queue and when it would start there."""

    position: int
    ahead: int
    estimated_start: EstimatedStart | None
    basis: str


class SiteReason(_SiteReasonKeys, total=False):
    """``SiteReason``: a site of a plan (or one ruled out), and why."""

    display_name: str
    queue: QueueEstimate


class PlanReasons(TypedDict, total=False):
    """``Plan.reasons``: why the job was taken to need a GPU, and to be offloadable or not."""

    requires_gpu: str
    offloadable: str


class _PlanKeys(TypedDict):
    requires_gpu: bool
    offloadable: bool
    sites: list[SiteReason]
    ruled_out: list[SiteReason]


class PlanView(_PlanKeys, total=False):
    """``Plan``: where a job would run, in order, and the sites ruled out."""

    reasons: PlanReasons


# ---------------------------------------------------------------------- jobs


class KueueCondition(TypedDict, total=False):
    """``Attempt.kueue``: the raw Kueue condition."""

    condition: str
    status: str
    reason: str
    message: str


class PodFailure(TypedDict, total=False):
    """``Attempt.pod``: the pod the site failed, in its own words."""

    name: str
    reason: str
    message: str
    exitCode: int | None


class _AttemptKeys(TypedDict):
    number: int
    site: str
    outcome: str | None
    reason: str


class AttemptView(_AttemptKeys, total=False):
    """``Attempt``: one try of a job at one site."""

    site_display: str
    job_name: str | None
    started: str | None
    ended: str | None
    kueue: KueueCondition
    remote_job_id: str | None
    pod: PodFailure | None
    blame: str


class Progress(TypedDict):
    """``Progress``: an array job's indexes."""

    completions: int
    succeeded: int
    failed: int
    active: int


class _ActionKeys(TypedDict):
    action: str
    by: str
    time: str
    words: str


class ActionView(_ActionKeys, total=False):
    """``Action``: what an admin did to the job."""

    job: str


class _JobKeys(TypedDict):
    id: str
    name: str
    owner: str
    state: str
    reason: str
    plan: PlanView
    attempts: list[AttemptView]
    progress: Progress


class ExplanationDetail(TypedDict):
    """``ExplanationDetail``: one layer's raw words."""

    layer: str
    source: str
    reason: str
    message: str


class ExplanationView(TypedDict):
    """``Explanation``: why the job is where it is, in one sentence, and each layer's words."""

    sentence: str
    layer: str
    details: list[ExplanationDetail]


class JobView(_JobKeys, total=False):
    """``Job``: what users see of a job."""

    site: str | None
    site_display: str | None
    submitted: str | None
    started: str | None
    ended: str | None
    fallback: str
    spec: dict[str, Any]
    actions: list[ActionView]
    queue: QueueEstimate
    explanation: ExplanationView


class JobList(TypedDict):
    """``GET /jobs``: a page of jobs."""

    jobs: list[JobView]
    total: int
    next_offset: int | None


class _LogChunkKeys(TypedDict):
    data: str
    next_offset: int
    eof: bool


class LogChunk(_LogChunkKeys, total=False):
    """``LogChunk``: a slice of a job's log."""

    pod: str | None
    message: str


# ---------------------------------------------------------------------- sites


class FreeTotal(TypedDict):
    """``FreeTotal``."""

    free: float
    total: float


class GpuModelCapacity(TypedDict):
    """``GpuModelCapacity``: one GPU model of a site."""

    model: str
    free: int
    total: int
    per_job: int
    mig: bool


class PerJobLimits(TypedDict, total=False):
    """``Site.capacity.per_job``: the most one job can get at a site."""

    cpu: float
    memory: int
    walltime: int | None


class _SiteCapacityKeys(TypedDict):
    gpus: FreeTotal
    cpu: FreeTotal


class SiteCapacity(_SiteCapacityKeys, total=False):
    """``Site.capacity``: free and total GPUs and CPUs, each GPU model's, the per-job limits."""

    models: list[GpuModelCapacity]
    per_job: PerJobLimits


class SiteHealthView(TypedDict):
    """``Site.health``."""

    usable: bool
    state: str


class _SiteQueueKeys(TypedDict):
    pending: int
    reasons: list[str]


class SiteBreakerView(TypedDict):
    """``SiteBreaker``: a site's circuit breaker."""

    state: str
    reason: str | None
    retry_at: str | None


class SiteQueue(_SiteQueueKeys, total=False):
    """``Site.queue``: Kueue workloads waiting, Kueue's words for why, and where a job of
    default size would stand and start (as :class:`QueueEstimate`)."""

    position: int
    ahead: int
    estimated_start: EstimatedStart | None
    basis: str


class _SiteKeys(TypedDict):
    name: str
    display_name: str
    kind: str
    health: SiteHealthView
    capacity: SiteCapacity
    queue: SiteQueue


class SiteView(_SiteKeys, total=False):
    """``Site``: an entry of ``GET /sites``."""

    summary: str
    gpu_models: list[str]
    breaker: SiteBreakerView


class SiteList(TypedDict):
    """``GET /sites``."""

    sites: list[SiteView]


# ---------------------------------------------------------------------- the caller


class ServiceSettings(TypedDict):
    """``GET /whoami``'s ``settings``: the service's, which users' servers use as they are."""

    max_staged_bytes: int
    home_mount_path: str


class WhoamiBody(TypedDict):
    """``GET /whoami``."""

    name: str
    admin: bool
    settings: ServiceSettings
