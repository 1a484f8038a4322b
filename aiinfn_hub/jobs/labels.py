"""Names of the labels and annotations the jobs service puts on Kubernetes objects."""

from __future__ import annotations

import hashlib
import re

DOMAIN = "aiinfn.infn.it"
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "aiinfn-hub"
JOB_ID = f"{DOMAIN}/job-id"
OWNER = f"{DOMAIN}/owner"
ATTEMPT = f"{DOMAIN}/attempt"
SITE = f"{DOMAIN}/site"
REQUEST_ID = f"{DOMAIN}/request-id"
ROLE = f"{DOMAIN}/role"
# annotations
OWNER_NAME = f"{DOMAIN}/owner-name"
PLAN = f"{DOMAIN}/plan"
ATTEMPTS = f"{DOMAIN}/attempts"
FINAL = f"{DOMAIN}/final"
JOB_NAME = f"{DOMAIN}/name"
SUBMITTED = f"{DOMAIN}/submitted"
ACTIONS = f"{DOMAIN}/actions"
HOME_CLAIM = f"{DOMAIN}/home-claim"
#: When the owner's server saved the job's executed notebook (POST /jobs/{id}/collected).
COLLECTED = f"{DOMAIN}/collected"
#: When the job's attempts were deleted and its staged file removed (see retention.py).
COMPACTED = f"{DOMAIN}/compacted"
QUEUE_NAME = "kueue.x-k8s.io/queue-name"
KUEUE_JOB_UID = "kueue.x-k8s.io/job-uid"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"

_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def label_value(text: str) -> str:
    """``text`` if it is a valid label value, else a valid slug with a short hash."""
    if _LABEL_VALUE.match(text):
        return text
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-_.")[:50].strip("-_.") or "x"
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{slug}-{digest}"


def record_name(job_id: str) -> str:
    """The ConfigMap that records a job: its spec, plan, staged files and finished attempts."""
    return f"aiinfn-{job_id}"


def record_job_id(name: str) -> str | None:
    """The job whose record is named ``name`` (None: not a record's name)."""
    prefix = record_name("")
    return name[len(prefix) :] if name.startswith(prefix) and len(name) > len(prefix) else None


def attempt_name(job_id: str, number: int) -> str:
    """The batch/v1 Job of one attempt; deterministic, so creating it twice is harmless."""
    return f"aiinfn-{job_id}-{number}"
