"""The jobs service's default image allow-list is what the spawner really runs: for every
profile and choice of a configuration, the image AIInfnSpawner sets is one the jobs service,
reading the same configuration sections, allows; what the spawner refuses, it refuses too."""

from __future__ import annotations

import pytest
from tornado import web
from traitlets.config import Config

from aiinfn_hub.jobs.images import ImagePolicy
from aiinfn_hub.spawner import AIInfnSpawner, ClusterView

from ..jobs.test_images import LAB, PROFILES


@pytest.fixture
async def config(sandbox):
    c = Config()
    c.KubeSpawner.namespace = "default"
    c.KubeSpawner.image = LAB
    c.AIInfnSpawner.profile_list = PROFILES
    yield c
    await ClusterView.stop_all()


async def image_for(config: Config, options: dict) -> str:
    """The image the spawner sets for ``options`` (as it does at the start of a spawn)."""
    spawner = AIInfnSpawner(_mock=True, config=config)
    spawner.user_options = options
    await spawner.load_user_options()
    return spawner.image


async def test_every_image_the_spawner_runs_is_allowed_for_jobs(config):
    policy = ImagePolicy(config=config)
    spawner = AIInfnSpawner(_mock=True, config=config)
    choices = [{"profile": p["slug"]} for p in spawner.profiles()]
    choices += [
        {"profile": "pick-a-cuda", "image": "c11"},
        {"profile": "pick-a-cuda", "image--unlisted-choice": "registry.infn.it/ai/mine:0.3"},
    ]
    images = {await image_for(config, options) for options in choices}
    assert images == {
        LAB,
        "registry.infn.it/ai/root-torch:6.32",
        "cu:12",
        "cu:11",
        "registry.infn.it/ai/mine:0.3",
    }
    for image in images:
        assert policy.allows(image), image


async def test_what_the_spawner_refuses_jobs_may_not_use(config):
    policy = ImagePolicy(config=config)
    options = {"profile": "pick-a-cuda", "image--unlisted-choice": "docker.io/miner:1"}
    with pytest.raises(web.HTTPError):
        await image_for(config, options)
    assert not policy.allows("docker.io/miner:1")
