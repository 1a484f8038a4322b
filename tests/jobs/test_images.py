"""The image allow-list: a job may use the images of the hub's profiles (read from the spawner's
own configuration sections) or ImagePolicy.allowed_images, and the default image; any other is a
403 that names the allowed images, on submit, rerun and plan."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from traitlets.config import Config

from aiinfn_hub.errors import AIInfnError
from aiinfn_hub.jobs.images import ImagePolicy, profile_images

from .conftest import TOKENS, fast_config, serve, start_manager, stop_manager, wait_for

LAB = "registry.infn.it/ai/lab:2.1"
PROFILES = [
    {
        "display_name": "ROOT and PyTorch",
        "kubespawner_override": {"image": "registry.infn.it/ai/root-torch:6.32"},
    },
    {
        "display_name": "Pick a CUDA",
        "profile_options": {
            "image": {
                "display_name": "Image",
                "choices": {
                    "c12": {"display_name": "CUDA 12", "kubespawner_override": {"image": "cu:12"}},
                    "c11": {"display_name": "CUDA 11", "kubespawner_override": {"image": "cu:11"}},
                },
                "unlisted_choice": {
                    "enabled": True,
                    "validation_regex": r"registry\.infn\.it/[a-z0-9/-]+:[\w.-]+",
                    "kubespawner_override": {"image": "{value}"},
                },
            }
        },
    },
]


def spawner_config(**sections) -> Config:
    config = Config()
    config.KubeSpawner.image = LAB
    config.AIInfnSpawner.profile_list = PROFILES
    for name, values in sections.items():
        config[name] = Config(values)
    return config


def test_the_profiles_images_are_the_default():
    assert profile_images(spawner_config()) == [
        LAB,
        "registry.infn.it/ai/root-torch:6.32",
        "cu:12",
        "cu:11",
        r"re:(?:registry\.infn\.it/[a-z0-9/-]+:[\w.-]+)",
    ]
    policy = ImagePolicy(config=spawner_config(), also=["quay.io/jupyter/scipy-notebook:latest"])
    allowed = (
        LAB,
        "cu:11",
        "registry.infn.it/ai/custom:1",
        "quay.io/jupyter/scipy-notebook:latest",
    )
    for image in allowed:
        assert policy.allows(image), image
    for image in ("docker.io/ai/lab:2.1", "cu:10", "evil.example/registry.infn.it/a:1", "CU:12"):
        assert not policy.allows(image), image


def test_the_subclass_section_wins_and_a_dict_profile_list_counts():
    config = Config()
    config.KubeSpawner.image = "old:1"
    config.AIInfnSpawner.image = "new:1"
    config.KubeSpawner.profile_list = {"b": {"kubespawner_override": {"image": "b:1"}}, "a": {}}
    assert profile_images(config) == ["new:1", "b:1"]


def test_without_the_spawners_sections_only_listed_and_default_images():
    assert profile_images(Config()) == []
    policy = ImagePolicy(config=Config(), also=["python:3.12"])
    assert policy.allows("python:3.12") and not policy.allows("python:3.13")
    # KubeSpawner's own default where the sections name no image
    assert profile_images(spawner_config(KubeSpawner={}, AIInfnSpawner={})) == [
        "quay.io/jupyterhub/singleuser:latest"
    ]


def test_admins_list_images_and_patterns_instead():
    config = Config()
    config.ImagePolicy.allowed_images = ["ghcr.io/infn-ai/*", r"re:python:3\.1[23]"]
    policy = ImagePolicy(config=config, also=["python:3.11"])
    for image in ("ghcr.io/infn-ai/lab:1", "python:3.12", "python:3.11"):
        assert policy.allows(image), image
    for image in ("ghcr.io/other/lab:1", "python:3.14"):
        assert not policy.allows(image), image
    with pytest.raises(AIInfnError) as refused:
        policy.check("ghcr.io/other/lab:1")
    assert refused.value.status == 403 and refused.value.field == "image"
    message = refused.value.message
    assert "may not use the image 'ghcr.io/other/lab:1'" in message
    assert r"python:3.11, ghcr.io/infn-ai/*, an image matching python:3\.1[23]" in message
    policy.check(None)  # a job that names no image runs the default one


@pytest.fixture
async def api(sandbox) -> AsyncIterator:
    config = fast_config()
    config.merge(spawner_config())
    manager = await start_manager(str(sandbox.kubeconfig), config)
    try:
        with serve(manager, TOKENS, {"admin"}) as served:
            yield served, manager
    finally:
        await stop_manager(manager)


SHORT = {"command": ["python", "-c", "print('hi')"], "local_only": True}


async def test_submit_plan_and_rerun_refuse_other_images(api):
    api, manager = api
    status, job = await api.call("POST", "jobs", {**SHORT, "image": "cu:12"})
    assert status == 201 and job["spec"]["image"] == "cu:12"
    status, plain = await api.call("POST", "jobs", SHORT)  # the default image
    assert status == 201 and plain["spec"]["image"] is None
    for path in ("jobs", "plan"):
        status, error = await api.call("POST", path, {**SHORT, "image": "evil.example/miner:1"})
        assert status == 403 and error["field"] == "image", (path, error)
        assert "may not use the image 'evil.example/miner:1'" in error["error"]
        assert f"{LAB}, registry.infn.it/ai/root-torch:6.32, cu:12, cu:11" in error["error"]
        assert manager.default_image in error["error"]
    status, _ = await api.call("POST", "plan", {**SHORT, "image": "registry.infn.it/ai/x:1"})
    assert status == 200
    await wait_for(manager, job["id"])
    # the admins stop allowing the image: its job is not run again
    manager.images.allowed_images = [LAB]
    status, error = await api.call("POST", f"jobs/{job['id']}/rerun", {})
    assert status == 403 and "may not use the image 'cu:12'" in error["error"]
    assert len(manager.jobs) == 2


async def test_standalone_jobs_may_use_the_users_own_image(sandbox, tmp_path):
    """Standalone (a laptop, Binder): one user, whose own server's image their jobs may use."""
    from aiinfn_hub.serverext.standalone import Standalone

    standalone = Standalone(
        "Mario.Rossi", kubeconfig=str(sandbox.kubeconfig), state_dir=str(tmp_path),
        image="quay.io/binder/r2d-abc123:0d1f",
    )  # fmt: skip
    await standalone.start()
    try:
        policy = standalone.manager.images
        assert policy.allows("quay.io/binder/r2d-abc123:0d1f")
        assert policy.allows(standalone.manager.default_image)
        assert not policy.allows("quay.io/binder/r2d-other:1")
    finally:
        await standalone.stop()
