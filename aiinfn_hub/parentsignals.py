"""Stop with the parent process: ``make demo`` stops cleanly when SIGINT or SIGTERM is sent to
make's own process, not only to the whole process group.

GNU make does not pass SIGINT on to the recipe it runs: it waits for the recipe to end first
(it expects the terminal to have sent SIGINT to the whole group), so nothing ends; and on
SIGTERM it exits, passing the signal on only to the process it started itself. A trainer's
script or an IDE's stop button signals make's process alone. Two mechanisms cover it:

- the kernel's parent-death signal (``PR_SET_PDEATHSIG``): SIGTERM to this process when its
  parent exits, whatever killed it;
- following the parent's signals with ``ptrace(PTRACE_SEIZE)``: each signal the parent gets
  stops it briefly; this process passes it on unchanged and, for SIGINT, SIGTERM or SIGHUP,
  calls ``on_signal``. It needs the right to trace the parent (root, or Yama's
  ``ptrace_scope`` 0); without it, only the parent-death signal holds and :func:`follow`
  says why.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1
_PTRACE_CONT = 7
_PTRACE_SEIZE = 0x4206
_PTRACE_LISTEN = 0x4208
_PTRACE_EVENT_STOP = 128
_WALL = 0x40000000
#: The parent's signals that stop this process too.
STOPPING = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    libc.ptrace.restype = ctypes.c_long
    return libc


def follow(on_signal: Callable[[signal.Signals], None]) -> str | None:
    """Call ``on_signal`` (from another thread) when the parent process gets SIGINT, SIGTERM
    or SIGHUP, and send SIGTERM to this process when the parent exits. Returns None, or why
    the parent's signals cannot be followed (then only its exit is)."""
    libc = _libc()
    parent = os.getppid()
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # it exited before the request: no signal will come
        os.kill(os.getpid(), signal.SIGTERM)
        return None
    if libc.ptrace(_PTRACE_SEIZE, parent, None, None) != 0:
        return os.strerror(ctypes.get_errno())
    threading.Thread(
        target=_relay, args=(libc, parent, on_signal), name="parent-signals", daemon=True
    ).start()
    return None


def _relay(libc: ctypes.CDLL, parent: int, on_signal: Callable[[signal.Signals], None]) -> None:
    """Pass each of the parent's signals on as it came; a stop (Ctrl-Z) stays a stop."""
    while True:
        try:
            _, status = os.waitpid(parent, _WALL)
        except ChildProcessError:  # detached, or the parent is gone
            return
        if not os.WIFSTOPPED(status):
            return
        number = os.WSTOPSIG(status)
        if status >> 16 == _PTRACE_EVENT_STOP:  # a group stop: leave it stopped until continued
            libc.ptrace(_PTRACE_LISTEN, parent, None, None)
            continue
        libc.ptrace(_PTRACE_CONT, parent, None, ctypes.c_void_p(number))
        if number in STOPPING:
            on_signal(signal.Signals(number))
