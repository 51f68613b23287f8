"""Child processes that must not outlive the process that started them."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: signal.Signals) -> Callable[[], None]:
    """A ``preexec_fn``: the kernel sends ``sig`` to the child when this process dies, even
    by SIGKILL (Linux ``PR_SET_PDEATHSIG``; elsewhere nothing).

    It runs between fork and exec, so it only calls prctl and getppid. A parent that died
    before prctl took effect is caught by the getppid check. The signal is tied to the
    thread that forks: start children from the thread that lives longest.
    """
    parent = os.getpid()

    def preexec() -> None:  # pragma: no cover - runs in the forked child
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError, AttributeError):
                ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return preexec
