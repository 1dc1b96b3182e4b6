"""The media toolkit (PyAV): probing, limit checks, conversions, pictures and waveform peaks.

Callers import the module they need (`from projects.mediakit import probe`). Nothing here
imports Django, and this package imports nothing at its top, because the probe runs in a
fresh subprocess that imports only `probe_worker` and what it needs.
"""
