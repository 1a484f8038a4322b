"""Which container images a job may use: an allow-list, by default the images of the hub's
profiles.

The default is read from the spawner's own configuration: the ``KubeSpawner`` and
``AIInfnSpawner`` sections, which the jobs service's config file carries (the helm values alias
the hub's sections into it, so there is one copy to edit). The images of the profiles are the
spawner's ``image``, each profile's ``kubespawner_override.image``, each choice's of its
options, and for an option that takes a typed-in value (``unlisted_choice``) every image its
``validation_regex`` admits. ``JobsManager.default_image`` (jobs that name no image) is always
allowed.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from typing import Any

from traitlets import List, Unicode, default
from traitlets.config import Config, LoggingConfigurable

from ..errors import Forbidden

#: An allow-list entry with this prefix is a regular expression the whole image must match.
REGEX = "re:"
SPAWNER_SECTIONS = ("KubeSpawner", "AIInfnSpawner")  # the subclass's section wins


def _spawner_setting(config: Config, key: str) -> Any:
    """``key`` of the spawner's configuration, as the spawner sees it (None: not set)."""
    value = None
    for section in SPAWNER_SECTIONS:
        if section in config and key in config[section]:
            value = config[section][key]
    return value


def _override_entries(override: Any, where: Mapping[str, Any] | None = None) -> list[str]:
    """The allow-list entries of one ``kubespawner_override`` (``where``: the option whose
    typed-in value it formats, with its ``validation_regex``)."""
    image = (override or {}).get("image") if isinstance(override, Mapping) else None
    if not isinstance(image, str) or not image:
        return []
    if where is None or "{value}" not in image:
        return [image]
    before, _, after = image.partition("{value}")
    value = where.get("validation_regex") or ".*"
    return [f"{REGEX}{re.escape(before)}(?:{value}){re.escape(after)}"]


def profile_images(config: Config) -> list[str]:
    """The images the spawner's configuration lets users' servers run, as allow-list entries;
    empty when ``config`` has no spawner section (then only the default image is allowed)."""
    if not any(section in config for section in SPAWNER_SECTIONS):
        return []
    image = _spawner_setting(config, "image")
    if image is None:
        from kubespawner import KubeSpawner  # its default, as the spawner would use it

        image = KubeSpawner.class_traits()["image"].default_value
    entries = [image]
    profiles = _spawner_setting(config, "profile_list") or []
    if isinstance(profiles, Mapping):  # KubeSpawner takes a dict too, sorted by key
        profiles = [profiles[key] for key in sorted(profiles)]
    for profile in profiles if isinstance(profiles, list) else ():
        entries += _override_entries(profile.get("kubespawner_override"))
        for option in (profile.get("profile_options") or {}).values():
            for choice in (option.get("choices") or {}).values():
                entries += _override_entries(choice.get("kubespawner_override"))
            unlisted = option.get("unlisted_choice") or {}
            if unlisted.get("enabled"):
                entries += _override_entries(unlisted.get("kubespawner_override"), unlisted)
    return list(dict.fromkeys(entries))


def _matches(entry: str, image: str) -> bool:
    if entry.startswith(REGEX):
        return re.fullmatch(entry[len(REGEX) :], image) is not None
    return fnmatch.fnmatchcase(image, entry)


def _shown(entry: str) -> str:
    return f"an image matching {entry[len(REGEX) :]}" if entry.startswith(REGEX) else entry


class ImagePolicy(LoggingConfigurable):
    """The images (or patterns) jobs may use; a job that names another is refused (403)."""

    allowed_images = List(
        Unicode(),
        help="""Images a job may name, exactly (quay.io/jupyter/scipy-notebook:2025-01-06),
        as shell-style patterns (ghcr.io/infn-ai/*), or as regular expressions the whole
        image must match, prefixed with 're:'. Default: the images of the hub's profiles, read
        from the KubeSpawner and AIInfnSpawner sections of this service's configuration (the
        helm values alias the hub's own sections into it). JobsManager.default_image is always
        allowed. Any other image is a 403 that names the allowed ones.""",
    ).tag(config=True)

    @default("allowed_images")
    def _profile_images(self) -> list[str]:
        return profile_images(self.config)

    def __init__(self, *, also: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: allowed besides the list: the default image, and the user's own in standalone mode
        self.also = [image for image in also if image]

    @property
    def entries(self) -> list[str]:
        return list(dict.fromkeys([*self.also, *self.allowed_images]))

    def allows(self, image: str) -> bool:
        """Whether a job may run ``image``."""
        return any(_matches(entry, image) for entry in self.entries)

    def check(self, image: str | None) -> None:
        """Refuse (403, naming the allowed images) a job that names an image not allowed; a
        job that names none runs the default image."""
        if image is None or self.allows(image):
            return
        allowed = ", ".join(_shown(entry) for entry in self.entries)
        raise Forbidden(
            f"jobs on this hub may not use the image {image!r:.200}; use one of: {allowed} "
            "(the images of the hub's profiles), or leave the image out to use the default; "
            "ask your hub admins to allow another",
            "image",
        )
