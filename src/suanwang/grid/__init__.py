"""Grid coordination (算电协同): grid events, site power ceilings, measured delivery."""
