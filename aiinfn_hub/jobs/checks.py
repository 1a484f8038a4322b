"""What a job may use beyond what placement checks: the volumes the admins share (and its
owner's home claim) and the images they allow. Checked at submission, at a preview, and again
before each attempt is created (an admin may have stopped sharing a volume or allowing an
image since)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..errors import Forbidden
from .claims import HomeClaim
from .images import ImagePolicy
from .model import JobSpec


class RequestChecks:
    """Refuses the volumes and images a job may not use, saying which it may."""

    def __init__(
        self, *, images: ImagePolicy, home: HomeClaim, shared: Mapping[str, Sequence[str]]
    ) -> None:
        """``shared``: by JobsManager option (``shared_claims``, ``shared_configmaps``,
        ``shared_secrets``), the names any user's job may mount."""
        self.images = images
        self.home = home
        self.shared = shared

    def check(self, spec: JobSpec, user: str | None) -> None:
        """The image of ``spec``, and its volumes if the job is ``user``'s."""
        if user is not None:
            self.check_volumes(user, spec)
        self.images.check(spec.image)

    def check_volumes(self, user: str, spec: JobSpec) -> None:
        """Refuse a PVC, ConfigMap or Secret that the admins do not share: job pods run in the
        hub's namespace, beside every other user's home and the hub's own claims and secrets.
        A job may also mount its owner's home claim."""
        home = self.home.name_for(user)
        rules = {  # volume type: (option, names always allowed, what it is)
            "pvc": ("shared_claims", {"", "home", home}, "claim"),
            "configmap": ("shared_configmaps", set(), "ConfigMap"),
            "secret": ("shared_secrets", set(), "Secret"),
        }
        for need in spec.request.volumes:
            if need.type not in rules:
                continue
            option, own, what = rules[need.type]
            shared = self.shared[option]
            if need.name in own or need.name in shared:
                continue
            listed = ", ".join(sorted(shared)) or "none"
            home_words = "your home volume ('pvc') or " if need.type == "pvc" else ""
            raise Forbidden(
                f"a job may mount {home_words}a {what} the admins share "
                f"(JobsManager.{option}: {listed}), not the {what} {need.name!r:.80}",
                "volumes",
            )
