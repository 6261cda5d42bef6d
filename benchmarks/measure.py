"""Timing one child process from launch to exit, with its own peak memory, and machine facts."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path


@dataclass(frozen=True)
class Run:
    """One finished child process: wall and CPU seconds, peak memory, exit code, stderr tail."""

    seconds: float
    cpu_seconds: float  # user + system, all threads: less sensitive than wall time to other load
    peak_rss_mb: float
    exit_code: int
    stderr_tail: str


def child_env() -> dict[str, str]:
    """The environment for measured children: ours, but writing bytecode caches as usual.

    A normal install has compiled .pyc files; PYTHONDONTWRITEBYTECODE (set on some build
    machines) would make every child recompile catsort's modules from source.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


# Runs the command and writes "seconds cpu maxrss exitcode" to the file named first. Being a small
# fresh process is the point: a child's ru_maxrss starts at its parent's peak (Linux carries it
# over fork and exec), so children forked straight from the benchmark, which may hold hundreds
# of megabytes, would all report at least that much.
_WRAPPER = """
import resource, subprocess, sys, time
started = time.perf_counter()
code = subprocess.call(sys.argv[2:])
seconds = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as out:
    out.write(f"{seconds} {usage.ru_utime + usage.ru_stime} {usage.ru_maxrss} {code}")
"""


def run_measured(command: list[str], cwd: Path | None = None) -> Run:
    """Run ``command`` alone and measure it: wall clock from launch to exit, and its max RSS."""
    with tempfile.TemporaryDirectory(prefix="catsort-run-") as scratch:
        report = Path(scratch) / "report"
        stderr_path = Path(scratch) / "stderr"
        with open(stderr_path, "wb") as stderr:
            subprocess.run(
                [sys.executable, "-I", "-S", "-c", _WRAPPER, str(report), *command],
                cwd=cwd,
                env=child_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                check=False,
            )
        tail = stderr_path.read_bytes()[-2000:].decode(errors="replace")
        try:
            seconds, cpu, peak, code = report.read_text().split()
        except (OSError, ValueError):
            nan = float("nan")
            return Run(nan, nan, nan, -1, tail or "the measuring wrapper failed")
    # ru_maxrss is in kilobytes on Linux, in bytes on macOS.
    scale = 1 / 2**20 if sys.platform == "darwin" else 1 / 2**10
    return Run(float(seconds), float(cpu), int(peak) * scale, int(code), tail)


def median(values: list[float]) -> float:
    """The median of a non-empty list."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def cpu_busy(seconds: float = 2.0) -> float | None:
    """The share of all CPUs in use over the next ``seconds``, where /proc/stat tells (Linux).

    Unlike the load average, which trails by a minute, this says whether something else is
    running right now.
    """

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        return sum(values), values[3] + values[4]  # total, idle + iowait

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return 1.0 - (idle1 - idle0) / max(total1 - total0, 1)


def machine_facts() -> dict[str, str]:
    """What the figures depend on: CPU, cores, memory, OS, and the library versions."""
    facts = {
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": _memory(),
        "OS": platform.platform(terse=True),
        "Python": platform.python_version(),
    }
    for package in ("ai-edge-litert", "pillow", "numpy", "tensorflow", "tensorflow-cpu", "keras"):
        try:
            facts[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return facts


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory() -> str:
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return "unknown"
    return f"{pages / 2**30:.0f} GiB"
