"""Executors: run placed jobs on the sites' real engines (local processes, Slurm, Ray)."""

from suanwang.executors.base import (
    BackendUnavailable,
    ExecState,
    ExecStatus,
    Executor,
    ExecutorConfig,
    RunSpec,
)

__all__ = ["BackendUnavailable", "ExecState", "ExecStatus", "Executor", "ExecutorConfig",
           "RunSpec"]
