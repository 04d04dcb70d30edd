"""The site's own log file, `<state-dir>/<SITE>/client.log`: what its node did, round by round,
for the operator at the hospital (the ClientApp runs in a process of its own, so lines are
appended to the file and printed, and `pmm client` shows them)."""
from __future__ import annotations

import time
from pathlib import Path


class SiteLog:
    def __init__(self, state_dir: Path, site: str):
        self.path = Path(state_dir) / site / "client.log"
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, line: str) -> None:
        stamped = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}"
        with self.path.open("a") as handle:
            handle.write(stamped + "\n")
        print(stamped, flush=True)
