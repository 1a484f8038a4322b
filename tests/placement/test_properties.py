"""Properties of plans over generated requests."""

from hypothesis import given, settings
from hypothesis import strategies as st

from aiinfn_hub.placement import JobRequest, NoSiteError, Placer, SiteHealth, VolumeNeed

PLACER = Placer()
LOCAL = PLACER.sites["local"].capabilities

volumes = st.lists(
    st.builds(VolumeNeed, st.sampled_from(["pvc", "configmap", "secret", "emptydir"])), max_size=3
)
health = st.fixed_dictionaries(
    {},
    optional={
        name: st.builds(SiteHealth, st.booleans(), st.booleans(), st.booleans())
        for name in ("leonardo", "tier1")
    },
)


@st.composite
def local_fitting_requests(draw):
    """Requests the local site can serve: within its CPU, memory, walltime and GPU pools."""
    pool = draw(st.none() | st.sampled_from(LOCAL.gpus))
    gpus = draw(st.integers(1, pool.per_node)) if pool else 0
    return JobRequest(
        cpu=draw(st.floats(0.1, LOCAL.cpu)),
        memory=draw(st.integers(1, LOCAL.memory)),
        gpus=gpus,
        gpu_model=pool.model if pool and draw(st.booleans()) else None,
        walltime=draw(st.none() | st.integers(1, LOCAL.max_walltime)),
        volumes=tuple(draw(volumes)),
        needs_inbound_network=draw(st.booleans()),
        local_only=draw(st.booleans()),
    )


any_requests = st.builds(
    JobRequest,
    cpu=st.floats(0.1, 2000),
    memory=st.integers(1, 2**45),
    gpus=st.integers(0, 10),
    gpu_model=st.none() | st.sampled_from(PLACER.gpu_models),
    walltime=st.none() | st.integers(1, 60 * 86400),
    volumes=volumes.map(tuple),
    needs_inbound_network=st.booleans(),
    local_only=st.booleans(),
)


@settings(max_examples=300)
@given(local_fitting_requests(), health)
def test_healthy_local_site_always_gives_a_plan(request, remote_health):
    plan = PLACER.plan(request, remote_health)
    assert plan.sites
    assert plan.sites[-1].site.name == "local"


@settings(max_examples=300)
@given(any_requests, health)
def test_no_plan_contains_a_site_that_cannot_serve(request, remote_health):
    try:
        plan = PLACER.plan(request, remote_health)
    except NoSiteError as exc:
        assert exc.requirement
        return
    for choice in plan.sites:
        assert choice.site.problems(request) == []
        assert remote_health.get(choice.site.name, SiteHealth()).usable
        if choice.site.is_offload:
            assert plan.requirements.offloadable


@settings(max_examples=200)
@given(any_requests, health)
def test_plans_are_deterministic(request, remote_health):
    def attempt():
        try:
            return PLACER.plan(request, remote_health).to_dict()
        except NoSiteError as exc:
            return str(exc)

    first = attempt()
    assert attempt() == first
    fresh = Placer()
    try:
        assert fresh.plan(request, remote_health).to_dict() == first
    except NoSiteError as exc:
        assert str(exc) == first
