from django.urls import path

from projects.views import projects

app_name = "projects"

urlpatterns = [
    path("", projects.project_list, name="list"),
    path("<int:pk>/", projects.project_detail, name="detail"),
    path("<int:pk>/members/", projects.project_members, name="members"),
    path(
        "<int:pk>/members/<int:membership_pk>/remove/",
        projects.membership_remove,
        name="membership-remove",
    ),
]
