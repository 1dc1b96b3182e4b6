from django.urls import path

from projects.views import media, projects

app_name = "projects"

urlpatterns = [
    path("projects/", projects.project_list, name="list"),
    path("projects/<int:pk>/", projects.project_detail, name="detail"),
    path("projects/<int:pk>/members/", projects.project_members, name="members"),
    path(
        "projects/<int:pk>/members/<int:membership_pk>/remove/",
        projects.membership_remove,
        name="membership-remove",
    ),
    path("projects/<int:pk>/videos/upload/", media.upload, {"kind": "video"}, name="video-upload"),
    path("projects/<int:pk>/audio/upload/", media.upload, {"kind": "audio"}, name="audio-upload"),
    path("projects/<int:pk>/import/", media.url_import, name="url-import"),
    path("videos/<int:pk>/", media.video_detail, name="video"),
    path("videos/<int:pk>/status/", media.video_status, name="video-status"),
    path("videos/<int:pk>/fix/", media.video_fix, name="video-fix"),
    path("videos/<int:pk>/files/<str:field>/", media.video_file, name="video-file"),
    path("audio/<int:pk>/status/", media.audio_status, name="audio-status"),
    path("audio/<int:pk>/fix/", media.audio_fix, name="audio-fix"),
    path("audio/<int:pk>/file/", media.audio_file, name="audio-file"),
    path("faces/<int:pk>/thumbnail/", media.face_file, name="face-file"),
    path("tasks/<uuid:pk>/files/<str:field>/", media.task_file, name="task-file"),
    path("m/<str:token>/", media.media_link, name="media-link"),
]
