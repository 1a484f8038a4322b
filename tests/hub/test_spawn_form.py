"""The spawn form as a user reads it: GPU counts as choices, display names, the Automatic
profile's short text with details on demand, and, where a remote site may run the server, a
note before Start that its home is scratch and a choice to keep it local (opt-in without a
copy-back). The form is rendered by AIInfnSpawner in this process against the sandbox; its
option is checked like the others, and a kept-local server starts at a local site."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from traitlets.config import Config

from aiinfn_hub.spawner import AIInfnSpawner, ClusterView
from aiinfn_hub.spawner.clusterview import display_model
from aiinfn_hub.spawner.profiles import WHERE, Where, chosen_where, remote_note

HOME = [{"name": "home", "persistentVolumeClaim": {"claimName": "claim-{user_server}"}}]


@pytest.fixture
async def spawner(sandbox):
    def make(**config) -> AIInfnSpawner:
        c = Config()
        c.KubeSpawner.namespace = "default"
        c.KubeSpawner.volumes = HOME
        for key, value in config.items():
            setattr(c.AIInfnSpawner, key, value)
        return AIInfnSpawner(_mock=True, config=c)

    yield make
    await ClusterView.stop_all()


class Form(HTMLParser):
    """Radio groups (name -> [(value, label, checked)]), select boxes, text inputs, notes."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.radios: dict[str, list[dict]] = {}
        self.by_id: dict[str, dict] = {}
        self.labels: dict[str, str] = {}
        self.selects: list[str] = []
        self.text_inputs: list[str] = []
        self.notes: list[str] = []
        self._label: str | None = None
        self._capture: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("type") == "radio":
            radio = {"value": a["value"], "checked": "checked" in a, "id": a["id"]}
            self.radios.setdefault(a.get("name", ""), []).append(radio)
            self.by_id[a["id"]] = radio
        elif tag == "input":
            self.text_inputs.append(a.get("id", ""))
        elif tag == "select":
            self.selects.append(a.get("name", ""))
        elif tag == "label" and a.get("for"):
            self._label = a["for"]
            self.labels[self._label] = ""
        elif tag == "p" and "aiinfn-remote-note" in (a.get("class") or ""):
            self.notes.append("")
            self._capture = self.notes

    def handle_endtag(self, tag):
        if tag == "label":
            self._label = None
        elif tag == "p":
            self._capture = None

    def handle_data(self, data):
        if self._label is not None:
            self.labels[self._label] += data
        if self._capture is not None:
            self._capture[-1] += data

    def choices(self, name: str) -> list[tuple[str, str, bool]]:
        return [(r["value"], self.labels[r["id"]].strip(), r["checked"]) for r in self.radios[name]]


def test_gpu_models_have_display_names():
    assert display_model("RTX5000") == "RTX 5000"
    assert display_model("A100-MIG-1g.10gb") == "A100 MIG 1g.10gb"
    assert [display_model(m) for m in ("A100", "T4", "H100_SXM")] == ["A100", "T4", "H100 SXM"]


async def test_gpu_counts_are_choices_with_display_names(spawner):
    s = spawner()
    assert await s.cluster.ready(30)
    html = await s._render_profiles_form()
    form = Form(html)
    # no select boxes or free text: every option is a group of radio buttons
    assert form.selects == [] and form.text_inputs == []
    assert form.choices("profile-option-gpu-t4--gpus") == [
        ("1", "1 GPU", True),
        ("2", "2 GPUs", False),
    ]
    # the MIG profile says as many per server as its choices offer
    mig = form.choices("profile-option-gpu-a100-mig-1g-10gb--gpus")
    assert [v for v, _, _ in mig] == ["1", "2", "4"]
    assert "7 of 7 A100 MIG 1g.10gb free now; up to 4 per server" in html
    assert "4 of 4 RTX 5000 free now" in html
    assert "RTX5000" not in html and "A100-MIG" not in html
    # one width for all choices: the same class, laid out by the form's grid
    assert "grid-auto-columns: minmax(7em, 1fr)" in html


async def test_automatic_is_one_sentence_with_details_on_demand(spawner):
    s = spawner()
    assert await s.cluster.ready(30)
    html = await s._render_profiles_form()
    match = re.search(r'id="profile-item-automatic".*?<h3>([^<]*)</h3><p>([^<]*)</p>', html, re.S)
    assert match, html
    sentence = match.group(2)
    assert sentence == "4 CPUs, 16Gi memory, at the site the hub finds best when it starts."
    assert sentence.count(".") == 1
    details = re.search(r"<details[^>]*><summary>Where it runs</summary><p>([^<]*)</p>", html)
    assert details and details.group(1).startswith("GPU servers: Local resources"), html
    # remote sites are off on this hub: no note, no choice of sites
    assert "aiinfn-remote-note" not in html.replace(".aiinfn-remote-note", "")
    assert "profile-option-automatic--where" not in html


async def test_with_remote_sites_the_form_warns_and_keeping_local_is_the_default_without_copy_back(
    spawner,
):
    s = spawner(interactive_offload=True, copy_back_max_bytes=0)
    assert await s.cluster.ready(30)
    form = Form(await s._render_profiles_form())
    (note,) = form.notes
    assert "CINECA Leonardo" in note and "CNAF Tier-1" in note
    assert "your home folder cannot be mounted" in note and "scratch home" in note
    assert "Nothing is copied back" in note
    assert form.choices("profile-option-automatic--where") == [
        ("local", "Local only (home kept)", True),
        ("any", "Remote too (scratch home)", False),
    ]


async def test_with_copy_back_remote_sites_are_the_default_and_the_note_says_what_comes_back(
    spawner,
):
    s = spawner(interactive_offload=True, copy_back_max_bytes=512 * 2**20)
    assert await s.cluster.ready(30)
    form = Form(await s._render_profiles_form())
    (note,) = form.notes
    assert "up to 512Mi in all, are copied back into your home folder when it stops" in note
    assert [c for _, _, c in form.choices("profile-option-automatic--where")] == [False, True]


async def test_the_sites_choice_is_checked_like_the_others(spawner):
    s = spawner(interactive_offload=True, copy_back_max_bytes=0)
    assert await s.cluster.ready(30)
    profiles = s.profiles()
    automatic = next(p for p in profiles if p["slug"] == "automatic")
    ok = s.check_user_options({"profile": "automatic", WHERE: "any"}, profiles)
    assert chosen_where(ok, automatic) is Where.ANYWHERE
    assert chosen_where({"profile": "automatic"}, automatic) is Where.LOCAL
    from tornado.web import HTTPError

    with pytest.raises(HTTPError) as error:
        s.check_user_options({"profile": "automatic", WHERE: "leonardo"}, profiles)
    assert error.value.status_code == 400
    assert "'leonardo' is out of range for option 'where' (Sites)" in str(error.value)
    with pytest.raises(HTTPError):
        s.check_user_options({"profile": "gpu-t4", WHERE: "local"}, profiles)


async def test_the_form_preselects_the_last_choices(spawner):
    s = spawner(interactive_offload=True)
    assert await s.cluster.ready(30)
    s.user_options = {"profile": "automatic", "gpus": "2", WHERE: "local"}
    form = Form(await s._render_profiles_form())
    assert [v for v, _, on in form.choices("profile-option-automatic--gpus") if on] == ["2"]
    assert [v for v, _, on in form.choices("profile-option-automatic--where") if on] == ["local"]
    assert form.by_id["profile-item-automatic"]["checked"]


def test_the_note_promises_a_copy_back_only_of_a_scratch_home():
    sites = ["CINECA Leonardo"]
    assert remote_note([], scratch_home=True, copy_back=1) == ""
    bare = remote_note(sites, scratch_home=False, copy_back=2**30)
    assert (
        bare == "At a remote site (CINECA Leonardo) the server's files are deleted when it stops."
    )
    kept = remote_note(sites, scratch_home=True, copy_back=2**30)
    assert kept.endswith("up to 1Gi in all, are copied back into your home folder when it stops.")
