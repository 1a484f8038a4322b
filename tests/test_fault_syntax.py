"""One written form of a fault: what the README, the demo's banner, Binder's files and the
example notebooks tell a user to type is the form the commands take (``provider-failure:tier1``)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from aiinfn_hub.cluster.faults import fault_request as cluster_request
from aiinfn_hub.demo import banner
from aiinfn_hub.faultsyntax import read_fault
from aiinfn_hub.sandbox.faults import fault_request as sandbox_request

ROOT = Path(__file__).resolve().parent.parent
#: A fault as the docs write it to a command: what follows ``sandbox fault``, ``cluster
#: fault`` or ``--fault``, up to the next option or the end of the code span.
WRITTEN = re.compile(r"(sandbox fault|cluster fault|--fault)[ =]+([a-z][a-z0-9:.-]*)( [a-z]\w*)?")


def demo_banner() -> str:
    sandbox = SimpleNamespace(
        info=lambda: {"sites": [{"name": "tier1", "nodes": ["vk-tier1"]}]},
        kubeconfig=Path(".demo/sandbox/kubeconfig"),
    )
    args = argparse.Namespace(interactive_offload=True, state_dir=".demo")
    faults = [{"fault": "api-latency", "ms": 200.0}, {"fault": "site-down", "site": "tier1"}]
    return banner("http://127.0.0.1:8000", sandbox, faults, args, "pw", "admin", "apw")


def user_texts() -> dict[str, str]:
    """Every text that tells a user how to switch a fault."""
    texts = {
        name: (ROOT / name).read_text()
        for name in ("README.md", "Makefile", "binder/README.md", "binder/postBuild")
    }
    for guide in sorted((ROOT / "docs").glob("*.md")):
        texts[f"docs/{guide.name}"] = guide.read_text()
    for notebook in sorted((ROOT / "binder" / "examples").glob("*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        texts[notebook.name] = "\n".join("".join(c["source"]) for c in cells)
    texts["the demo's banner"] = demo_banner()
    return texts


def test_every_fault_a_user_is_told_to_type_is_written_one_way_and_is_taken() -> None:
    seen = []
    for where, text in user_texts().items():
        for command, fault, then in WRITTEN.findall(text):
            words = read_fault(fault)
            seen.append((where, fault))
            assert not then, f"{where}: `{command} {fault}{then}` is the spaced form"
            parse = cluster_request if command == "cluster fault" else sandbox_request
            if command == "--fault" and words.name in ("refuse",):
                parse = cluster_request  # `aiinfn-hub cluster up --fault refuse:tier1`
            parse(words)  # raises if the command would refuse it
    faults = {fault for _where, fault in seen}
    assert "provider-failure:tier1" in faults and "interlink-down:leonardo" in faults
    assert {where for where, _ in seen} >= {
        "README.md",
        "binder/README.md",
        "falls-back.ipynb",
        "the demo's banner",
    }


def test_the_banner_names_the_faults_on_as_they_are_typed() -> None:
    text = demo_banner()
    assert "Faults: api-latency:200, site-down:tier1." in text
    assert "sandbox fault provider-failure:tier1" in text


@pytest.mark.parametrize(
    ("first", "second", "words"),
    [
        ("provider-failure:tier1", None, ("provider-failure", "tier1", None)),
        ("provider-failure", "tier1", ("provider-failure", "tier1", None)),
        ("site-down:leonardo:power cut: back at 10:00", None,
         ("site-down", "leonardo", "power cut: back at 10:00")),
        ("clear", None, ("clear", None, None)),
    ],
)  # fmt: skip
def test_both_forms_read_the_same(first: str, second: str | None, words: tuple) -> None:
    read = read_fault(first, second)
    assert (read.name, read.target, read.detail) == words
