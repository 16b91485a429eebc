"""The live service: HTTP API, storage, the scheduler on the wall clock, metrics."""
