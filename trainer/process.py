"""Child processes of the trainer: own process group, dies with its parent, stopped as a group."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib.util
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

SHIMS = Path(__file__).parent / "shims"
_PR_SET_PDEATHSIG = 1


def cli_path(configured: str | None = None) -> str:
    """``llamafactory-cli`` beside this interpreter unless configured otherwise."""
    if configured:
        return configured
    return str(Path(sys.executable).with_name("llamafactory-cli"))


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a LLaMA-Factory process: the torchaudio placeholder if needed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMFORGE_")}
    env.update(extra or {})
    # The placeholder only where no real torchaudio is installed, and only for this child.
    if importlib.util.find_spec("torchaudio") is None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SHIMS), env.get("PYTHONPATH")) if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    # Offline by design: never reach for a model hub from a training or serving process.
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def thread_env(threads: int) -> dict[str, str]:
    """Caps torch's CPU thread pools (OpenMP and MKL) at ``threads``; 0 leaves the default."""
    if threads <= 0:
        return {}
    return {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    # A trainer that outlives its worker would train on beside the redelivered run:
    # the kernel sends SIGKILL to the child when the worker process dies.
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:
        os._exit(1)


async def spawn(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log: Path | None = None
) -> asyncio.subprocess.Process:
    """Start ``argv`` in a new session (its own process group), stdout+stderr piped."""
    return await asyncio.create_subprocess_exec(
        *argv,
        cwd=str(cwd),
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )


def signal_group(pid: int, sig: int) -> bool:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return False
    return True


async def stop_group(process: asyncio.subprocess.Process, grace: float) -> int | None:
    """SIGTERM the process group, SIGKILL it after ``grace`` seconds; the exit code."""
    if process.returncode is None:
        signal_group(process.pid, signal.SIGTERM)
        try:
            async with asyncio.timeout(grace):
                await process.wait()
        except TimeoutError:
            signal_group(process.pid, signal.SIGKILL)
            await process.wait()
    # Children that outlived the leader (torchrun workers, dataloaders) go too.
    signal_group(process.pid, signal.SIGKILL)
    return process.returncode


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's process
        return True
    return True


def kill_group_and_wait(pid: int, grace: float) -> None:
    """Stop a process group we did not start in this process (a dead worker's trainer)."""
    import time

    signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    signal_group(pid, signal.SIGKILL)
