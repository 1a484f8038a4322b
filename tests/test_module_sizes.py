"""Small modules with one job each: every module of these packages can be read in one sitting
(about 400 lines at most). A package joins the list once its modules are that small."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

SMALL = ("aiinfn_hub.jobs", "aiinfn_hub.spawner")


@pytest.mark.parametrize("package", SMALL)
def test_no_module_of_the_package_is_over_about_400_lines(package: str) -> None:
    folder = Path(importlib.import_module(package).__file__ or "").parent
    sizes = {path.name: len(path.read_text().splitlines()) for path in folder.glob("*.py")}
    assert sizes, folder
    assert {name: n for name, n in sizes.items() if n > 400} == {}
