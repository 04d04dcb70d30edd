"""`python -m pmm.runtime.process_guard PARENT_PID COMMAND...`: run COMMAND and end it with its parent.

A SuperNode or SuperLink started by `pmm client` / `pmm serve` runs in its own process group so
it can be stopped with every process it spawned (flower-superexec, ClientApps). That group must
not outlive pmm: when pmm is killed, even with SIGKILL (no handler runs), the guard notices its
parent is gone within half a second and stops the whole group, SIGTERM first, SIGKILL after a
grace period. It also stops the group when it is itself told to stop, and exits with the
command's status otherwise. Standard output and error are the command's.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

POLL_S = 0.5
GRACE_S = 10.0


def stop_group(child: subprocess.Popen) -> int:
    """SIGTERM to this group (the guard ignores it), SIGKILL to what is left after the grace period."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    group = os.getpgid(0)
    try:
        os.killpg(group, signal.SIGTERM)
        child.wait(GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return child.poll() or 0
    try:
        os.killpg(group, signal.SIGKILL)  # the guard too: nothing of the group may stay behind
    except ProcessLookupError:
        pass
    return child.poll() or 0


def main(argv: list[str]) -> int:
    parent, command = int(argv[0]), argv[1:]
    child = subprocess.Popen(command)  # in the guard's process group
    stopping = False

    def on_signal(signum, frame) -> None:  # noqa: ARG001
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while child.poll() is None:
        if stopping or os.getppid() != parent:
            return stop_group(child)
        time.sleep(POLL_S)
    return child.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
