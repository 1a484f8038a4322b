"""The sandbox's stand-in for an image's bash (what a pod's terminal runs as ``$SHELL -l``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from aiinfn_hub.sandbox import podshell


def shell(tmp_path: Path, script: str, **env: str) -> list[str]:
    program = podshell.install(tmp_path / "kubelet")
    done = subprocess.run(
        [str(program), "-l", "-c", script],
        env={"PATH": f"{tmp_path / 'image-bin'}:/usr/bin:/bin", **env},
        cwd=env.get("HOME", tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_a_login_shell_keeps_the_images_path(tmp_path: Path) -> None:
    """A login shell on the host reads /etc/profile, which sets PATH afresh: the venv that
    stands in for the image's tools would be lost."""
    home = tmp_path / "home"
    home.mkdir()
    (path,) = shell(tmp_path, "echo $PATH", HOME=str(home))
    assert path.startswith(f"{tmp_path / 'image-bin'}:"), path


def test_the_home_is_the_images_home_where_a_mount_namespace_is_allowed(tmp_path: Path) -> None:
    home = tmp_path / "claim"
    home.mkdir()
    (home / "notes.txt").write_text("mine\n")
    existed = Path(podshell.IMAGE_HOME).exists()
    said = shell(
        tmp_path,
        "echo $HOME; pwd; cat notes.txt; hostname",
        HOME=str(home),
        HOSTNAME="jupyter-anna-bianchi",
        **{podshell.HOME_VAR: podshell.IMAGE_HOME},
    )
    if podshell._unshare() is None:  # this machine allows none: the home as the kubelet gave it
        assert said[:3] == [str(home), str(home), "mine"]
    else:
        assert said == [podshell.IMAGE_HOME, podshell.IMAGE_HOME, "mine", "jupyter-anna-bianchi"]
    assert Path(podshell.IMAGE_HOME).exists() == existed  # the host's /home is left as it was
