"""Jupyter for the browser tests: galata's settings, standalone mode, a known sandbox path."""

import os
from pathlib import Path

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821

state = Path(os.environ["AIINFN_UI_STATE"])
c.ServerApp.ip = "127.0.0.1"  # noqa: F821
c.ServerApp.port = int(os.environ["AIINFN_UI_PORT"])  # noqa: F821
c.ServerApp.allow_root = True  # noqa: F821
c.LabApp.extension_manager = "readonly"  # noqa: F821
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"  # noqa: F821
# The tests switch faults on the sandbox with its kubeconfig, under this folder.
c.AiinfnHubExtension.mode = "standalone"  # noqa: F821
c.AiinfnHubExtension.state_dir = str(state / "standalone")  # noqa: F821
