"""Where a user's server runs, as the spawner tells the server and the server tells JupyterLab.

The spawner knows the site, the fallbacks on the way and whether the home volume became a
scratch folder; it passes them to the server as one environment variable (:data:`PLACE_ENV`,
JSON); the server extension serves them (``GET aiinfn-hub/api/server``) with the sentences
JupyterLab shows for the whole session.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .placement.quantities import format_memory

PLACE_ENV = "AIINFN_SERVER_PLACE"
#: The site's name alone, which older spawners set (and this one still does).
SITE_ENV = "AIINFN_SITE"


@dataclass(frozen=True)
class FallBackStep:
    """A site the server did not run at, and why."""

    site_name: str
    reason: str


@dataclass(frozen=True)
class ServerPlace:
    """Where the server runs, whether it fell back, and what its home is."""

    site: str = ""
    site_name: str = ""
    remote: bool = False
    fell_back_from: tuple[FallBackStep, ...] = ()
    #: Volumes backed by claims (the home) that are empty scratch folders at this site.
    scratch_volumes: tuple[str, ...] = ()
    #: Bytes of changed files copied back into the home when the server stops (0: none).
    copy_back_bytes: int = 0
    #: When the site's walltime ends the server (seconds since the epoch), if it does.
    ends_at: float | None = None

    @property
    def scratch_home(self) -> bool:
        return bool(self.scratch_volumes)

    def to_env(self) -> dict[str, str]:
        data = json.dumps(asdict(self), separators=(",", ":"))
        return {PLACE_ENV: data, SITE_ENV: self.site}

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ServerPlace:
        """The place the spawner gave; only the site's name if it gave no more (or garbled
        it); nothing outside a hub."""
        site = environ.get(SITE_ENV, "")
        try:
            data = json.loads(environ.get(PLACE_ENV) or "null")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return cls(site=site, site_name=site)
        try:
            steps = tuple(
                FallBackStep(str(s["site_name"]), str(s["reason"]))
                for s in data.get("fell_back_from") or ()
            )
            ends_at = data.get("ends_at")
            return cls(
                site=str(data.get("site") or site),
                site_name=str(data.get("site_name") or data.get("site") or site),
                remote=bool(data.get("remote")),
                fell_back_from=steps,
                scratch_volumes=tuple(str(v) for v in data.get("scratch_volumes") or ()),
                copy_back_bytes=max(0, int(data.get("copy_back_bytes") or 0)),
                ends_at=float(ends_at) if ends_at is not None else None,
            )
        except (KeyError, TypeError, ValueError):
            return cls(site=site, site_name=site)

    # ------------------------------------------------------------------ words for the screen

    def summary(self) -> str:
        """The status bar's few words: ``CINECA Leonardo · fell back · scratch home``."""
        if not self.site_name:
            return ""
        parts = [self.site_name]
        if self.fell_back_from:
            parts.append("fell back")
        if self.scratch_home:
            parts.append("scratch home")
        return " · ".join(parts)

    def message(self, now: float | None = None) -> str:
        """What JupyterLab says about the server, in sentences."""
        if not self.site_name:
            return ""
        text = f"Your server runs at {self.site_name}"
        if self.fell_back_from:
            text += ", after falling back from " + "; ".join(
                f"{s.site_name} ({s.reason})" for s in self.fell_back_from
            )
        text += "."
        if self.scratch_home:
            text += (
                " Your home folder cannot be mounted there: this server's files are in a "
                "scratch folder, deleted when the server stops."
            )
            if self.copy_back_bytes:
                size = format_memory(self.copy_back_bytes)
                text += (
                    f" When it stops, files you created or changed, up to {size} in all, are "
                    "copied into your home folder (a folder named after the site, with a "
                    "report of what was copied)."
                )
            else:
                text += " Nothing is copied back: download what you want to keep."
        if self.ends_at is not None:
            left = self.ends_at - (time.time() if now is None else now)
            ends = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(self.ends_at))
            text += f" {self.site_name}'s time limit stops the server at {ends}"
            text += f" (in {_duration(left)})." if left > 0 else "."
        return text

    def notice(self) -> str:
        """One short sentence for a notice (JupyterLab cuts longer ones): the scratch home."""
        if not self.scratch_home:
            return ""
        then = "changed files are copied back" if self.copy_back_bytes else "nothing is copied back"
        return (
            f"Your home here is a scratch folder at {self.site_name}, deleted when the server "
            f"stops; {then}."
        )

    def to_api(self, now: float | None = None) -> dict[str, Any]:
        """The server extension's answer to ``GET aiinfn-hub/api/server``."""
        return {
            "site": self.site,
            "site_name": self.site_name,
            "remote": self.remote,
            "fell_back": bool(self.fell_back_from),
            "fell_back_from": [asdict(s) for s in self.fell_back_from],
            "scratch_home": self.scratch_home,
            "scratch_volumes": list(self.scratch_volumes),
            "copy_back_bytes": self.copy_back_bytes,
            "ends_at": self.ends_at,
            "summary": self.summary(),
            "message": self.message(now),
            "notice": self.notice(),
        }


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
