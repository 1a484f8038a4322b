"""The image's shell, as the sandbox stands in for it: what a terminal of a pod's server runs.

The host stands in for every image, and a Jupyter image (docker-stacks) has the user's home at
``/home/jovyan``, its ``SHELL`` is bash and its tools on ``PATH``. jupyter-server's terminals
run ``$SHELL -l``; on the host a login shell would read ``/etc/profile``, which sets ``PATH``
afresh (losing the venv that stands in for the image's tools), and would show the host's
directories. So the kubelet points a pod's ``SHELL`` at this program (see :func:`install`),
which runs bash as the container would:

- where the machine allows a mount namespace (root, or a user namespace of the current user),
  in one of its own where the pod's home is mounted at the image's home (``/home/jovyan``) and
  the host name is the pod's: the prompt, ``pwd`` and ``HOME`` read as in the container;
- elsewhere with ``HOME`` and the working directory as the kubelet gave them (the pod's home);
- always without ``/etc/profile`` (the container's ``PATH`` kept, as the image's ENV sets it),
  reading ``/etc/bash.bashrc`` and the user's ``~/.bashrc`` as an interactive bash does.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

#: The home of the image's user (docker-stacks' jovyan), and the working directory a container
#: of the image starts in when its spec names none.
IMAGE_HOME = "/home/jovyan"
#: Set by :func:`install` in a pod's environment: the image's home, and the pod's name.
HOME_VAR = "AIINFN_SANDBOX_IMAGE_HOME"
#: How this file runs as the shell (see :func:`install`).
_SELF = f"{shlex.quote(sys.executable)} -I {shlex.quote(str(Path(__file__).resolve()))}"
#: What the shell reads at its start instead of ~/.bashrc (it reads that in turn).
RCFILE = Path(__file__).with_name("podshell.bashrc")


def install(state_dir: Path) -> Path:
    """The shell program (written once under the kubelet's ``state_dir``) a pod's ``SHELL``
    names: a script that runs this file with the sandbox's interpreter, isolated (``-I``: it
    needs the standard library only, and starts without importing the sandbox)."""
    program = state_dir / "bin" / "bash"
    script = f'#!/bin/sh\nexec {_SELF} "$@"\n'
    if not program.is_file() or program.read_text() != script:
        program.parent.mkdir(parents=True, exist_ok=True)
        program.write_text(script)
        program.chmod(0o755)
    return program


@functools.cache
def _unshare() -> tuple[str, ...] | None:
    """util-linux's unshare with a mount and UTS namespace, as root or in a user namespace
    (where the current user is root, as mounting needs), or None where neither is allowed."""
    unshare = shutil.which("unshare")
    if unshare is None or not sys.platform.startswith("linux"):
        return None
    for prefix in ((unshare, "--mount", "--uts"), (unshare, "--map-root-user", "--mount", "--uts")):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            if subprocess.run([*prefix, "true"], capture_output=True, timeout=10).returncode == 0:
                return prefix
    return None


def _bind(source_fd: int, target: str) -> None:
    subprocess.run(
        ["mount", "--bind", f"/proc/self/fd/{source_fd}", target],
        check=True,
        pass_fds=(source_fd,),
        capture_output=True,
    )


def _mount_home(host_home: str, image_home: str) -> None:
    """Inside a mount namespace of our own: ``host_home`` at ``image_home``. Where the host
    lacks ``image_home``, its parent becomes a tmpfs holding the host's entries again (each
    bound back, so a checkout under /home keeps working) and ``image_home``."""
    home_fd = os.open(host_home, os.O_PATH | os.O_DIRECTORY)
    target = Path(image_home)
    if not target.is_dir():
        parent = target.parent
        links = {e.name: os.readlink(e.path) for e in os.scandir(parent) if e.is_symlink()}
        entries = {
            e.name: os.open(e.path, os.O_PATH) for e in os.scandir(parent) if e.name not in links
        }
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(parent)], check=True)
        for name, link in links.items():
            (parent / name).symlink_to(link)
        for name, fd in entries.items():
            place = parent / name
            if os.path.isdir(f"/proc/self/fd/{fd}"):
                place.mkdir()
            else:
                place.touch()
            with contextlib.suppress(subprocess.CalledProcessError):
                _bind(fd, str(place))
            os.close(fd)
        target.mkdir(exist_ok=True)
    _bind(home_fd, str(target))
    os.close(home_fd)


def _bash(args: list[str], env: dict[str, str], cwd: str) -> NoReturn:
    """Exec bash as the container's interactive shell: no /etc/profile, the prompt and rc
    files of an interactive bash; other arguments (``-c ...``) as given."""
    bash = shutil.which("bash", path=env.get("PATH")) or "/bin/bash"
    rest = [a for a in args if a not in ("-l", "--login")]
    argv = [bash, "--noprofile", "--rcfile", str(RCFILE), *rest]
    os.chdir(cwd)
    os.execve(bash, argv, env)


def main(argv: list[str] | None = None) -> None:
    """Run the pod's shell (see the module's docstring)."""
    args = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ)
    image_home = env.pop(HOME_VAR, "")
    host_home = env.get("HOME", "")
    cwd = os.getcwd()
    inside = args[:1] == ["--sandbox-inside"]
    if inside:
        args = args[1:]
        _mount_home(host_home, image_home)
        with contextlib.suppress(OSError):
            socket.sethostname(env.get("HOSTNAME", ""))
        if cwd == host_home or cwd.startswith(host_home.rstrip("/") + "/"):
            cwd = image_home + cwd[len(host_home.rstrip("/")) :]
        env["HOME"] = image_home
        env["PWD"] = cwd
        _bash(args, env, cwd)
    unshare = _unshare() if image_home and host_home and Path(host_home).is_dir() else None
    if unshare is None:
        _bash(args, env, cwd)
    env[HOME_VAR] = image_home
    command = [*unshare, "--", *shlex.split(_SELF), "--sandbox-inside", *args]
    os.execve(command[0], command, env)


if __name__ == "__main__":  # pragma: no cover
    main()
