"""What a sample may use: resource limits and the import allow-list."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Limits(BaseModel):
    """Per-sample limits: a cgroup for memory and processes where the machine allows (else rlimits per
    process), rlimits for the rest, and the zygote for wall time and output."""

    model_config = ConfigDict(extra="forbid")

    wall_s: float = Field(30.0, gt=0, description="Wall-clock seconds before the sample is killed.")
    cpu_s: int = Field(30, gt=0, description="CPU seconds (RLIMIT_CPU).")
    mem_mb: int = Field(2048, gt=64, description="Memory in MB: of the whole sample (cgroup), else of each of "
                                                 "its processes (RLIMIT_AS).")
    nproc: int = Field(64, gt=0, description="Processes and threads of the whole sample (cgroup and RLIMIT_NPROC "
                                             "of its own uid).")
    nofile: int = Field(256, gt=16, description="Open files (RLIMIT_NOFILE).")
    fsize_mb: int = Field(32, gt=0, description="Largest file the sample may write, its output included (RLIMIT_FSIZE).")
    output_bytes: int = Field(64 * 1024, gt=0, description="stdout/stderr bytes kept in the table.")
    tmpfs_mb: int = Field(256, gt=0, description="Size of each sample's private /tmp (and /dev/shm).")
