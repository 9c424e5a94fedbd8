"""A worker process that must not outlive the process that started it (serve, or torchrun)."""

from __future__ import annotations

import ctypes
import os
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int) -> None:
    """Have the kernel send this process ``signum`` when its parent dies (Linux; elsewhere nothing).

    A worker left behind by a SIGKILLed parent would hold a lease, or (a rank of a multi-GPU worker) wait in a
    collective for a group that is gone."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signum)
    except OSError:
        return
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signum)
