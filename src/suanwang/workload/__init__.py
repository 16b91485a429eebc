"""Workload: job files, real traces and synthetic demand mapped to `Job`s."""
