"""The verbs of the application. Every business rule lives here; views and tasks call these.

One module per area; the verbs are re-exported here so callers write `services.upload_video`.
"""

from projects.services.errors import ServiceError
from projects.services.projects import (
    create_project,
    project_page_context,
    remove_member,
    tasks_panel_context,
)

__all__ = [
    "ServiceError",
    "create_project",
    "project_page_context",
    "remove_member",
    "tasks_panel_context",
]
