"""CPU seconds of the processes a benchmark runs (Linux /proc), so figures can say who did the work."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds process `pid` has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used by named groups of processes between `start` and `stop`."""

    def __init__(self, groups: Mapping[str, Sequence[int]]) -> None:
        self.groups = groups
        self.used: dict[str, float] = {}
        self._before: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        totals = {}
        for name, pids in self.groups.items():
            total = 0.0
            for pid in pids:
                try:
                    total += cpu_seconds(pid)
                except OSError:
                    continue
            totals[name] = total
        return totals

    def start(self) -> None:
        self._before = self._now()

    def stop(self) -> None:
        after = self._now()
        self.used = {name: after[name] - self._before[name] for name in self.groups}


def cpu_shares(used: Mapping[str, float], seconds: float) -> str:
    """`engine 93%, redis 12%, ...`: each group's CPU seconds as a share of one core over `seconds`."""
    return ", ".join(f"{name} {cpu / seconds:.0%}" for name, cpu in used.items())
