"""The extension is enabled by the package's own jupyter_server_config.d file, in the
editable install and in the wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import tomllib

import aiinfn_hub

REPO = Path(aiinfn_hub.__file__).resolve().parents[1]
CONFIG = Path("jupyter-config/jupyter_server_config.d/aiinfn_hub.json")


def test_the_config_file_enables_the_extension_and_the_wheel_ships_it():
    config = json.loads((REPO / CONFIG).read_text())
    assert config == {"ServerApp": {"jpserver_extensions": {"aiinfn_hub.serverext": True}}}
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    shared = project["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    assert shared[str(CONFIG.parent)] == "etc/jupyter/jupyter_server_config.d"
    installed = Path(sys.prefix) / "etc/jupyter/jupyter_server_config.d" / CONFIG.name
    assert json.loads(installed.read_text()) == config, "make install puts it in the venv"


def test_jupyter_lists_the_extension_as_enabled_and_valid(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path)  # only the environment's own configuration
    done = subprocess.run(
        [str(Path(sys.executable).parent / "jupyter"), "server", "extension", "list"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = (done.stdout + done.stderr).replace("\x1b[32m", "").replace("\x1b[0m", "")
    assert "aiinfn_hub.serverext enabled" in text
    assert "aiinfn_hub.serverext  OK" in text
