"""``aiinfn-jobs sites``: a degraded site says so in its health column, and why under the
table (the breaker's reason, with when it is tried again)."""

from __future__ import annotations

import re

from aiinfn_hub.jobs.clitext import sites_text


def site(name: str, display: str, breaker: dict | None) -> dict:
    found = {
        "name": name,
        "display_name": display,
        "health": {"state": "ok"},
        "capacity": {"gpus": {"free": 0, "total": 0}, "cpu": {"free": 60.5, "total": 64}},
        "queue": {"pending": 2},
    }
    if breaker is not None:
        found["breaker"] = breaker
    return found


def test_a_degraded_site_says_so_and_why():
    reason = (
        "3 of the last 3 submissions to CNAF Tier-1 failed: the remote submission failed: "
        "HTTP 504; will try again at 14:05:00"
    )
    text = sites_text(
        [
            site("tier1", "CNAF Tier-1", {"state": "open", "reason": reason, "retry_at": "x"}),
            site("local", "Local resources", {"state": "closed", "reason": None}),
            site("old", "A site of an older service", None),
        ]
    )
    assert re.search(r"^tier1\s+CNAF Tier-1\s+degraded\s+0/0\s+60.5/64\s+2$", text, re.M)
    assert re.search(r"^local\s+Local resources\s+ok\b", text, re.M)
    assert re.search(r"^old\s+A site of an older service\s+ok\b", text, re.M)
    assert text.splitlines()[-1] == f"CNAF Tier-1: {reason}"
