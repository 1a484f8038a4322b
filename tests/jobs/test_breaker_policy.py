"""The breakers' settings per site (``c.BreakerPolicy``) and which recorded attempts they
count: the controller's own classification (``blame``), nothing read afresh."""

from __future__ import annotations

import pytest
from traitlets import TraitError

from aiinfn_hub.jobs.breakers import BreakerPolicy, ending_of
from aiinfn_hub.placement import default_catalogue
from aiinfn_hub.placement.breaker import BreakerSettings

SITES = {site.name: site for site in default_catalogue()}


def test_each_site_has_the_defaults_unless_changed():
    policy = BreakerPolicy(failures=4, cooldown=120, sites={"tier1": {"failures": 2}})
    assert policy.for_site(SITES["tier1"]) == BreakerSettings(2, 600, 120, 3600)
    assert policy.for_site(SITES["leonardo"]) == BreakerSettings(4, 600, 120, 3600)


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"colour": 1}, "unknown keys ['colour']"),
        ({"cooldown": "5m"}, "must be a whole number of seconds, got '5m'"),
        ({"failures": -1}, "must be a whole number of failures, got -1"),
    ],
)
def test_a_wrong_site_change_says_what_is_wrong(changes, words):
    with pytest.raises(TraitError, match=words.replace("[", r"\[").replace("]", r"\]")):
        BreakerPolicy(sites={"tier1": changes})


ENDED = {"site": "tier1", "started": "2025-06-01T10:00:00Z", "ended": "2025-06-01T10:01:00Z"}


@pytest.mark.parametrize(
    "attempt, failed",
    [
        ({"outcome": "fell_back", "blame": "site", "reason": "the remote submission failed"}, True),
        ({"outcome": "failed", "blame": "site", "reason": "the site lost the job (x)"}, True),
        ({"outcome": "failed", "blame": "user", "reason": "your code exited with code 3"}, False),
        ({"outcome": "succeeded", "reason": "completed"}, False),
        ({"outcome": "cancelled", "reason": "cancelled by its owner"}, None),
        ({"outcome": "fell_back", "reason": "not admitted within 10m (waiting)"}, None),
    ],
)
def test_only_what_the_controller_blamed_on_the_site_counts(attempt, failed):
    found = ending_of({**ENDED, **attempt})
    assert (found.failed if found else None) is failed
    if found and found.failed:
        assert "(" not in found.reason  # the short form, as the plan's words use
