"""Media handling behind `projects.media`: probing, limit checks, conversions, pictures, peaks.

Kept free of Django and of heavy imports at package level, because the probe runs in a fresh
subprocess that imports only `probe_worker` and what it needs.
"""
