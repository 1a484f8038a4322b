"""The estimated start at one site, on small hand-built queues whose answer can be worked out
by hand."""

from __future__ import annotations

from aiinfn_hub.placement.estimate import (
    Demand,
    Queued,
    Recent,
    Running,
    SiteQueue,
    Source,
    estimate_start,
    ordinal,
    possessive,
    span,
)

NOW = 1_800_000_000.0
GPU = Demand(gpus=1)
HOUR = 3600.0


def _leonardo(**kw) -> SiteQueue:
    return SiteQueue(display_name="CINECA Leonardo", **kw)


def test_room_now_starts_now() -> None:
    queue = _leonardo(free=Demand(gpus=2, cpu=8))
    est = estimate_start(queue=queue, job=Queued(GPU, HOUR), now=NOW)
    assert (est.position, est.ahead) == (1, 0)
    assert est.earliest == est.latest == NOW
    assert est.basis == "1st in CINECA Leonardo's queue; room for it now"
    assert est.in_words(NOW) == "1st in CINECA Leonardo's queue; expected to start within a minute"


def test_latest_is_the_walltime_ends_earliest_the_seen_share() -> None:
    # one GPU, held by a job that started 10 min ago with a 1 h walltime; one job ahead with
    # a 30 min walltime. Latest: the running job ends at +50 min, the one ahead runs 30 min,
    # so ours starts at +80 min. Jobs lately ran a quarter of their walltime (all shares 0.25):
    # the running one ends at max(now, -10+15)= +5 min, the one ahead 7.5 min: +12.5 min.
    queue = _leonardo(
        free=Demand(),
        running=(Running(GPU, NOW - 600, HOUR),),
        ahead=(Queued(GPU, HOUR / 2),),
        recent=Recent(completed=4, runtime_shares=(0.25, 0.25, 0.25, 0.25)),
    )
    est = estimate_start(queue=queue, job=Queued(GPU, HOUR), now=NOW)
    assert (est.position, est.ahead) == (2, 1)
    assert est.latest == NOW + 80 * 60
    assert est.earliest == NOW + 12.5 * 60
    assert est.likely == est.earliest
    assert est.basis.startswith("2nd in CINECA Leonardo's queue; 1 running job ends within")
    assert "recent jobs ran 25% of their time limit (4 seen)" in est.basis
    assert est.in_words(NOW) == (
        "2nd in CINECA Leonardo's queue; expected to start in 12 to 80 min"
    )
    data = est.to_dict()
    assert data["estimated_start"] == {
        "earliest": "2027-01-15T08:12:30Z",
        "latest": "2027-01-15T09:20:00Z",
    }
    assert (data["position"], data["ahead"]) == (2, 1)


def test_jobs_ahead_keep_their_order() -> None:
    # two GPUs, ending at +1 h and +2 h; the job ahead needs both (from +2 h to +3 h), ours
    # one: ours does not pass it at +1 h though one GPU is free then (Kueue admits in order)
    queue = _leonardo(
        free=Demand(),
        running=(Running(GPU, NOW, HOUR), Running(GPU, NOW, 2 * HOUR)),
        ahead=(Queued(Demand(gpus=2), HOUR),),
    )
    est = estimate_start(queue=queue, job=Queued(GPU, HOUR), now=NOW)
    assert est.latest == NOW + 3 * HOUR


def test_the_site_limit_stands_in_for_a_walltime_not_set() -> None:
    queue = _leonardo(free=Demand(), running=(Running(GPU, NOW, None),), default_walltime=2 * HOUR)
    est = estimate_start(queue=queue, job=Queued(GPU), now=NOW)
    assert est.latest == NOW + 2 * HOUR
    assert est.earliest == NOW  # no job seen ending: the earliest assumes they end at once
    assert "no recent job seen ending" in est.basis


def test_remote_queue_delay_is_added() -> None:
    queue = _leonardo(free=Demand(gpus=4), remote_delay=600)
    est = estimate_start(queue=queue, job=Queued(GPU, HOUR), now=NOW)
    assert est.earliest == est.latest == NOW + 600
    assert "its own batch queue adds about 10 min" in est.basis


def test_more_than_the_site_ever_frees_is_unknown() -> None:
    queue = _leonardo(free=Demand(gpus=1), running=(Running(GPU, NOW, HOUR),))
    est = estimate_start(queue=queue, job=Queued(Demand(gpus=4), HOUR), now=NOW)
    assert not est.known and est.to_dict()["estimated_start"] is None
    assert "asks for more than CINECA Leonardo frees" in est.basis


def test_no_walltimes_falls_back_on_the_admission_rate() -> None:
    # 6 admitted in the last hour: one every 10 min; 3 ahead: likely 30 min, 15 to 60 min
    queue = _leonardo(
        free=Demand(),
        running=(Running(GPU, NOW, None),),
        ahead=(Queued(GPU), Queued(GPU), Queued(GPU)),
        recent=Recent(window=HOUR, admitted=6),
    )
    est = estimate_start(queue=queue, job=Queued(GPU), now=NOW)
    assert (est.earliest, est.likely, est.latest) == (NOW + 900, NOW + 1800, NOW + 3600)
    assert est.basis.endswith("estimated from the 6 jobs admitted there in the last 60 min")


def test_jobs_ahead_held_though_there_is_room_are_not_started_now() -> None:
    # a queue that waits though its head fits what is free (a quota, a stalled site): the
    # free resources do not tell when it moves; the admission rate does, if any
    queue = _leonardo(free=Demand(gpus=8), ahead=(Queued(GPU, HOUR),))
    est = estimate_start(queue=queue, job=Queued(GPU, HOUR), now=NOW)
    assert not est.known
    assert est.basis == (
        "2nd in CINECA Leonardo's queue; jobs ahead wait though CINECA Leonardo has room; "
        "no job admitted there lately, so when it starts cannot be told"
    )
    moving = _leonardo(
        free=Demand(gpus=8), ahead=(Queued(GPU, HOUR),), recent=Recent(window=HOUR, admitted=4)
    )
    est = estimate_start(queue=moving, job=Queued(GPU, HOUR), now=NOW)
    assert (est.earliest, est.latest) == (NOW + 450, NOW + 1800)


def test_nothing_known_says_so() -> None:
    queue = _leonardo(free=Demand(), running=(Running(GPU, NOW, None),))
    est = estimate_start(queue=queue, job=Queued(GPU), now=NOW)
    assert est.earliest is None and est.latest is None
    assert est.in_words(NOW) == "1st in CINECA Leonardo's queue; no estimate of when it starts"


def test_counted_from_the_cache_says_why() -> None:
    queue = _leonardo(
        free=Demand(gpus=1),
        ahead=(Queued(GPU, HOUR),) * 2,
        ahead_count=5,
        source=Source.CACHE,
        source_note="counted from the waiting jobs: Kueue's queue positions are not served",
    )
    est = estimate_start(queue=queue, job=Queued(GPU, HOUR), now=NOW)
    assert (est.position, est.ahead) == (6, 5)
    assert est.basis.startswith(
        "6th in CINECA Leonardo's queue (counted from the waiting jobs: Kueue's queue "
        "positions are not served)"
    )


def test_words() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 103, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "103rd", "111th",
    ]  # fmt: skip
    assert span(600, 1500) == "10 to 25 min"
    assert span(3 * HOUR, 3 * HOUR) == "3 h"
    assert span(HOUR, 5 * HOUR) == "1 to 5 h"
    assert span(0, 3 * 86400) == "0 to 3 days"


def test_a_sites_name_takes_the_possessive_english_gives_it():
    assert possessive("CINECA Leonardo") == "CINECA Leonardo's"
    assert possessive("Local resources") == "Local resources'"
