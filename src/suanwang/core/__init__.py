"""The scheduling core: state, the Policy protocol, accounting. No I/O, no clocks."""
