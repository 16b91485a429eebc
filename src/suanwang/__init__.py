"""suanwang (算网): monitoring and scheduling of China's East-Data-West-Compute network."""

__version__ = "0.1.0"
