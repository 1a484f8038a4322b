"""The jobs package's Python API (``from aiinfn_hub import jobs``) is not shadowed by its own
submodules: importing ``aiinfn_hub.jobs.<name>`` sets the package's attribute ``<name>``."""

from __future__ import annotations

import importlib
import pkgutil

from aiinfn_hub import jobs


def test_no_submodule_is_named_like_a_function_of_the_api():
    submodules = {m.name for m in pkgutil.iter_modules(jobs.__path__)}
    assert not submodules & set(jobs.__all__)
    for name in submodules - {"__main__"}:
        importlib.import_module(f"aiinfn_hub.jobs.{name}")
    assert all(callable(getattr(jobs, name)) for name in jobs.__all__ if name[0].islower())
