"""The jobs package's Python API (``from aiinfn_hub import jobs``) is not shadowed by its own
submodules: importing ``aiinfn_hub.jobs.<name>`` sets the package's attribute ``<name>``, and the
users' part needs only the standard library. (Its modules' size: tests/test_module_sizes.py.)"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import sys
from pathlib import Path

from aiinfn_hub import jobs


def test_no_submodule_is_named_like_a_function_of_the_api():
    submodules = {m.name for m in pkgutil.iter_modules(jobs.__path__)}
    assert not submodules & set(jobs.__all__)
    for name in submodules - {"__main__"}:
        importlib.import_module(f"aiinfn_hub.jobs.{name}")
    assert all(callable(getattr(jobs, name)) for name in jobs.__all__ if name[0].islower())


def _top_level_imports(module: str) -> set[str]:
    """The packages a module imports when it is imported (not inside its functions)."""
    source = Path(importlib.import_module(module).__file__ or "").read_text()
    found = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level:
            found.add((node.module or "").split(".")[0])
    return found - {"__future__"}


def test_the_users_api_needs_nothing_but_the_standard_library():
    # a user's kernel may have nothing else installed: the client and its connection import
    # only the standard library and each other
    for module in ("aiinfn_hub.jobs.client", "aiinfn_hub.jobs.connection"):
        imported = _top_level_imports(module)
        assert imported, module
        assert imported <= set(sys.stdlib_module_names), (module, imported)


def test_the_users_import_paths_keep_working():
    from aiinfn_hub.jobs import client

    for name in ("Connection", "JobsClientError", "job_path", "connect"):
        assert name in client.__all__
        assert getattr(client, name).__module__ == "aiinfn_hub.jobs.connection"
