"""A circuit breaker per site: a site whose submissions keep failing for reasons of its own
infrastructure is skipped for a cool-down, then tested with one submission.

Pure policy over the endings of attempts at one site, folded in the order they ended:

- *closed*: each ending is kept for ``window`` seconds; when ``failures`` of those kept are
  the site's own failures, the breaker *opens* for ``cooldown`` seconds;
- *open*: new plans skip the site (its :class:`~.sites.SiteHealth` says why, so the one
  path that skips an unhealthy site skips this one too). Endings of attempts sent before it
  opened say nothing new and are not counted;
- *probing* (``retry_at`` has passed): the next submission goes through. Its success closes
  the breaker; its failure opens it again with the cool-down doubled, up to ``max_cooldown``.
  While that one submission is in progress the site is skipped again.

The endings come from the attempts recorded in jobs' records, so the same fold rebuilds the
same state after a restart. Which attempts count as the site's failures is decided where the
controller reads a failure (``jobs/signals.py``), never here.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum


class BreakerState(str, Enum):
    """Where a site's breaker is: closed (jobs go there), open (skipped), probing (the next
    submission tests the site)."""

    CLOSED = "closed"
    OPEN = "open"
    PROBING = "probing"


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    """One site's breaker. ``failures`` of 0: it never opens. Times in seconds."""

    failures: int = 3
    window: float = 600
    cooldown: float = 300
    max_cooldown: float = 3600


@dataclass(frozen=True, slots=True)
class Ending:
    """How one attempt at the site ended, as the breaker reads it: ``failed`` when the site's
    infrastructure failed it, else the site served it (whatever the user's code did).
    Epoch seconds."""

    started: float
    ended: float
    failed: bool
    reason: str


@dataclass(frozen=True, slots=True)
class BreakerView:
    """A breaker at one moment: its state, why it opened, when it lets a submission through,
    and ``skip``: the words placement skips the site with (empty: it does not)."""

    state: BreakerState
    reason: str | None = None
    retry_at: float | None = None
    skip: str = ""


def clock_text(at: float, now: float) -> str:
    """A time of day in the service's local time, ``14:05:00``, with the date when it is not
    today's: the form the panel shows times in."""
    moment = time.localtime(at)
    clock = time.strftime("%H:%M:%S", moment)
    if time.strftime("%Y-%m-%d", moment) == time.strftime("%Y-%m-%d", time.localtime(now)):
        return clock
    return time.strftime("%Y-%m-%d ", moment) + clock


class Breaker:
    """One site's breaker, folded from the endings of its attempts (:meth:`fold`)."""

    def __init__(self, site: str, settings: BreakerSettings) -> None:
        """``site``: the site's name as users read it."""
        self.site = site
        self.settings = settings
        self.recent: deque[Ending] = deque()  # closed: the endings within the window
        self.opened_at: float | None = None  # None: closed
        self.retry_at: float | None = None
        self.cooldown = float(settings.cooldown)
        self.reason = ""

    def fold(self, ending: Ending) -> None:
        """Take one more ending into account (endings come in the order they ended)."""
        if self.opened_at is None:
            self._closed(ending)
        elif ending.started < self.opened_at:
            return  # sent before the breaker opened: nothing new about the site
        elif ending.failed:
            cooldown = min(self.cooldown * 2, float(self.settings.max_cooldown))
            self._open(ending, f"the test submission to {self.site} failed too", cooldown)
        else:
            self._close()

    def _closed(self, ending: Ending) -> None:
        """A closed breaker counts the site's failures among the endings within the window,
        and opens when they are ``failures`` or more."""
        self.recent.append(ending)
        horizon = ending.ended - self.settings.window
        while self.recent[0].ended < horizon:
            self.recent.popleft()
        failed = sum(1 for e in self.recent if e.failed)
        wanted = self.settings.failures
        if ending.failed and wanted and failed >= wanted:
            words = f"{failed} of the last {len(self.recent)} submissions to {self.site} failed"
            self._open(ending, words, float(self.settings.cooldown))

    def _open(self, ending: Ending, words: str, cooldown: float) -> None:
        self.opened_at = ending.ended
        self.cooldown = cooldown
        self.retry_at = float(math.ceil(ending.ended + cooldown))
        self.reason = f"{words}: {ending.reason}" if ending.reason else words
        self.recent.clear()

    def _close(self) -> None:
        self.opened_at = self.retry_at = None
        self.cooldown = float(self.settings.cooldown)
        self.reason = ""
        self.recent.clear()

    def at(self, now: float, in_progress: Iterable[float] = ()) -> BreakerView:
        """The breaker at ``now``; ``in_progress``: when the attempts now in progress at the
        site started (one started since the breaker opened is testing it)."""
        if self.opened_at is None or self.retry_at is None:
            return BreakerView(BreakerState.CLOSED)
        if now < self.retry_at:
            skip = f"{self.reason}; will try again at {clock_text(self.retry_at, now)}"
            return BreakerView(BreakerState.OPEN, self.reason, self.retry_at, skip)
        opened = self.opened_at
        testing = any(started >= opened for started in in_progress)
        skip = f"{self.reason}; one submission is testing it now" if testing else ""
        return BreakerView(BreakerState.PROBING, self.reason, self.retry_at, skip)
