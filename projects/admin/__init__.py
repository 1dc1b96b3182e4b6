"""The review panel: Django's admin, limited to the projects each person belongs to.

The project rules of projects/access.py apply here too. `is_staff` only opens the panel; what
a person then sees is the objects of their own projects (every project with the
`projects.view_all_projects` permission, or for superusers), and only owners and reviewers
may approve or reject. Everything is read-only in the panel, superusers included: objects are
made and changed through the app, where the business rules live, and the audit trail is
never changed at all. The one write is the review decision (a form on the task's page and two
list actions), taken through services/review.py.

base.py      who may use the panel; read-only pages scoped to a person's projects
review.py    lip-sync tasks, the review queue and the decision workflow
projects.py  projects with their members and credits; the audit trail
media.py     source videos and audio clips
users.py     people: set a password, or mail a link to choose one
"""

from django.contrib import admin

from projects.admin import media, projects, review, users  # noqa: F401 - each registers its pages

# The panel's home page leads with the review queue (see the template).
admin.site.index_template = "admin/projects/review_index.html"
