"""The verbs of the application: every business rule lives here; views and tasks call them.

One module per subject. Callers import the module they use (`from projects.services import
pipeline`, then `pipeline.submit(...)`); this package itself exports nothing.
"""
