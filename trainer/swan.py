"""SwanLab wiring: every job logs to a per-job directory, offline unless a server is set."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainer.config import SwanLab


@dataclass(frozen=True, slots=True)
class SwanLabSettings:
    mode: str = "offline"  # offline | local; cloud whenever an API key is given
    project: str = "llmforge"
    api_key: str | None = None
    host: str | None = None


@dataclass(frozen=True, slots=True)
class SwanRun:
    config: SwanLab
    api_key: str | None
    host: str | None

    @property
    def run_id(self) -> str:
        return self.config.run_name

    def env(self, *, resuming: bool) -> dict[str, str]:
        """The run id is the job id, so a resumed attempt continues the same SwanLab run.

        The key goes through the environment, never into the YAML written to disk.
        """
        env = {"SWANLAB_RUN_ID": self.run_id}
        if resuming:
            env["SWANLAB_RESUME"] = "allow"
        if self.api_key:
            env["SWANLAB_API_KEY"] = self.api_key
        if self.host:
            env["SWANLAB_API_HOST"] = self.host.rstrip("/") + "/api"
            env["SWANLAB_WEB_HOST"] = self.host.rstrip("/")
        return env


def swanlab_for(settings: SwanLabSettings | None, job_dir: Path, job_id: str) -> SwanRun | None:
    if settings is None:
        return None
    mode = "cloud" if settings.api_key else settings.mode
    config = SwanLab(
        mode=mode,
        logdir=str(job_dir / "swanlab"),
        project=settings.project,
        run_name=job_id,
    )
    return SwanRun(config, settings.api_key, settings.host)


def run_dirs(job_dir: Path) -> list[Path]:
    """SwanLab's run folders of a job (one per attempt), oldest first."""
    root = job_dir / "swanlab"
    return sorted(p for p in root.glob("run-*") if p.is_dir()) if root.is_dir() else []
