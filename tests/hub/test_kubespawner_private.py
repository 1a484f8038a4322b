"""The private members of KubeSpawner (and of JupyterHub's Spawner) that AIInfnSpawner uses.

They are not part of KubeSpawner's API, so a release may change them without notice; the
package pins ``jupyterhub-kubespawner<8`` (tests/test_metadata.py), and each member below is
checked for what AIInfnSpawner relies on: that it exists, its signature, and its behaviour. A
failure here names the member to adapt in ``aiinfn_hub/spawner/`` (``spawner.py`` and its
mixins).
"""

from __future__ import annotations

import asyncio
import inspect
import re
from pathlib import Path

import pytest
from jupyterhub.spawner import Spawner
from kubespawner import KubeSpawner
from traitlets.config import Config

from aiinfn_hub.spawner import AIInfnSpawner


def params(function) -> list[str]:
    return list(inspect.signature(function).parameters)


#: member -> its parameters (self included); properties and attributes are checked below
METHODS = {
    "_get_initialized_profile_list": ["self", "profile_list"],
    "_sorted_dict_values": ["self", "src"],
    "_render_options_form": ["self", "profile_list"],
    "_get_profile": ["self", "slug", "profile_list"],
    "_load_profile": ["self", "slug", "profile_list"],
    "_start_watching_pods": ["self", "replace"],
    "_start_watching_events": ["self", "replace"],
    "_start": ["self"],
}


def test_every_private_member_the_spawner_uses_is_listed_here():
    """A new use of a private member must be covered here too."""
    package = Path(inspect.getfile(AIInfnSpawner)).parent
    package_name = AIInfnSpawner.__module__.rpartition(".")[0]
    source = "\n".join(p.read_text(encoding="utf-8") for p in sorted(package.glob("*.py")))
    names = set(re.findall(r"(?:self|super\(\))\.(_[a-z]\w*)", source))
    names |= {  # methods it overrides, in its class or a mixin of the package
        name
        for cls in AIInfnSpawner.__mro__
        if cls.__module__.startswith(package_name)
        for name, value in vars(cls).items()
        if re.match(r"_[a-z]", name) and inspect.isfunction(value)
    }
    set_by_init = set(KubeSpawner.__init__.__code__.co_names)
    used = {n for n in names if hasattr(KubeSpawner, n) or n in set_by_init}
    assert used == set(METHODS) | {"_log_name", "_start_future"}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_signature(name):
    assert params(getattr(KubeSpawner, name)) == METHODS[name]


@pytest.mark.parametrize("name", ["_start_watching_pods", "_start_watching_events", "_start"])
def test_coroutines_we_wrap_or_await(name):
    assert inspect.iscoroutinefunction(getattr(KubeSpawner, name))


def test_the_watches_we_count_are_started_through_self():
    """AIInfnSpawner counts KubeSpawner's watch requests by overriding these two methods: that
    works only while KubeSpawner's own start, poll, stop and progress call them on ``self``."""
    callers = {
        "_start_watching_pods": ("_start", "poll", "stop"),
        "_start_watching_events": ("_start", "progress"),
    }
    for method, names in callers.items():
        for name in names:
            code = getattr(KubeSpawner, name).__code__
            assert method in code.co_names, f"KubeSpawner.{name} no longer calls self.{method}"


def test_log_name_is_a_property_of_the_users_name():
    assert isinstance(inspect.getattr_static(Spawner, "_log_name"), property)


@pytest.fixture
async def spawner(sandbox):
    config = Config()
    config.KubeSpawner.namespace = "default"
    made = KubeSpawner(_mock=True, config=config)
    yield made
    await KubeSpawner._stop_all_reflectors()


PROFILES = [
    {
        "display_name": "Big Lab",
        "kubespawner_override": {"cpu_limit": 4.0, "environment": {"A": "1"}},
        "profile_options": {
            "image": {
                "display_name": "Image",
                "choices": {
                    "old": {"display_name": "Old", "kubespawner_override": {"image": "lab:1"}},
                    "new": {
                        "display_name": "New",
                        "kubespawner_override": {"image": "lab:2", "environment": {"B": "2"}},
                    },
                },
            }
        },
    },
    {"slug": "small", "display_name": "Small", "kubespawner_override": {"cpu_limit": 1.0}},
]


async def test_initialized_profile_list_fills_in_slugs_and_defaults(spawner):
    given = [dict(p) for p in PROFILES]
    ready = spawner._get_initialized_profile_list(given)
    assert given == PROFILES, "the list given is not changed (a copy is returned)"
    assert [p["slug"] for p in ready] == ["big-lab", "small"]
    assert ready[0]["default"] is True and "default" not in ready[1]
    option = ready[0]["profile_options"]["image"]
    assert option["choices"]["old"]["default"] is True  # the first choice
    assert option["unlisted_choice"] == {"enabled": False}
    assert spawner._get_initialized_profile_list([]) == []


async def test_sorted_dict_values_orders_a_dict_by_key_and_keeps_a_list(spawner):
    assert spawner._sorted_dict_values({"b": 2, "a": 1, "c": 3}) == [1, 2, 3]
    assert spawner._sorted_dict_values([3, 1]) == [3, 1]


async def test_get_profile_by_slug_or_the_default(spawner):
    ready = spawner._get_initialized_profile_list(PROFILES)
    assert spawner._get_profile("small", ready)["display_name"] == "Small"
    assert spawner._get_profile("", ready)["slug"] == "big-lab"
    assert spawner._get_profile(None, ready)["slug"] == "big-lab"
    with pytest.raises(ValueError, match="No such profile"):
        spawner._get_profile("nope", ready)


async def test_load_profile_applies_the_profile_and_the_chosen_option(spawner):
    ready = spawner._get_initialized_profile_list(PROFILES)
    spawner.environment = {"KEEP": "yes"}
    spawner.user_options = {"profile": "big-lab", "image": "new"}
    spawner._load_profile("big-lab", ready)
    assert spawner.cpu_limit == 4.0
    assert spawner.image == "lab:2"
    # dicts are merged into what is there, not replaced
    assert spawner.environment == {"KEEP": "yes", "A": "1", "B": "2"}
    spawner.user_options = {"profile": "big-lab"}
    spawner._load_profile("big-lab", ready)
    assert spawner.image == "lab:1", "no choice: the option's default choice"


async def test_render_options_form_shows_the_profiles_given(spawner):
    ready = spawner._get_initialized_profile_list(PROFILES)
    html = spawner._render_options_form(ready)
    assert isinstance(html, str)
    for text in ("Big Lab", "Small", "big-lab", "small", "Old", "New"):
        assert text in html, text


async def test_log_name_and_start_future(spawner):
    assert spawner._log_name == "mock@name"  # the user's name (user:server for named ones)
    assert spawner._start_future is None  # set in __init__, before any start

    async def started() -> str:
        return "http://10.0.0.7:8888"

    spawner._start = started
    future = spawner.start()
    assert spawner._start_future is future
    assert await future == "http://10.0.0.7:8888"
    assert asyncio.isfuture(spawner._start_future)
