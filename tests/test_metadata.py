"""The project's metadata: what it claims about itself, and how it pins what it builds on."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
PACKAGE = json.loads((REPO / "labextension" / "package.json").read_text(encoding="utf-8"))


def test_the_metadata_claims_no_home_page():
    """The project has no public home yet: the address the metadata once named does not
    exist, and PyPI and npm show such links as the project's own. Name one only once it
    serves this project."""
    assert "urls" not in PROJECT, PROJECT.get("urls")
    assert not {"homepage", "repository", "bugs"} & set(PACKAGE), sorted(PACKAGE)


def _requirement(name: str) -> Requirement:
    (found,) = [r for r in map(Requirement, PROJECT["dependencies"]) if r.name == name]
    return found


def _constraint(name: str) -> Version:
    for line in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.lower().startswith(f"{name}=="):
            return Version(line.split("==", 1)[1].strip())
    raise AssertionError(f"constraints.txt does not pin {name}")


def test_kubespawner_is_pinned_below_its_next_major_version():
    """AIInfnSpawner subclasses KubeSpawner and uses some of its private members
    (tests/hub/test_kubespawner_private.py): a new major version may change them."""
    requirement = _requirement("jupyterhub-kubespawner")
    pinned = _constraint("jupyterhub-kubespawner")
    installed = Version(version("jupyterhub-kubespawner"))
    assert installed in requirement.specifier and pinned in requirement.specifier
    assert installed == pinned, "constraints.txt and the environment disagree"
    assert Version(f"{pinned.major + 1}.0") not in requirement.specifier
    assert not requirement.specifier.contains(f"{pinned.major + 1}.0.0a1", prereleases=True)
