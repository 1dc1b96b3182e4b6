from django.urls import path

from projects.views import media, projects, review, tasks

app_name = "projects"

urlpatterns = [
    path("projects/", projects.project_list, name="list"),
    path("projects/<int:pk>/", projects.project_detail, name="detail"),
    path("projects/<int:pk>/members/", projects.project_members, name="members"),
    path("projects/<int:pk>/tasks/", projects.project_tasks_panel, name="tasks-panel"),
    path(
        "projects/<int:pk>/members/<int:membership_pk>/remove/",
        projects.membership_remove,
        name="membership-remove",
    ),
    path("projects/<int:pk>/videos/upload/", media.upload, {"kind": "video"}, name="video-upload"),
    path("projects/<int:pk>/audio/upload/", media.upload, {"kind": "audio"}, name="audio-upload"),
    path("projects/<int:pk>/import/", media.url_import, name="url-import"),
    path("projects/<int:pk>/decisions/seen/", review.decisions_seen, name="decisions-seen"),
    path("projects/<int:pk>/speech/", tasks.tts_clip_create, name="tts-create"),
    path("videos/<int:pk>/", tasks.video_workspace, name="video"),
    path("videos/<int:pk>/status/", media.video_status, name="video-status"),
    path("videos/<int:pk>/fix/", media.video_fix, name="video-fix"),
    path("videos/<int:pk>/faces/", tasks.faces_panel, name="faces"),
    path("videos/<int:pk>/faces/identify/", tasks.identify_again, name="identify"),
    path("videos/<int:pk>/quick/", tasks.quick_mode, name="quick"),
    path("videos/<int:pk>/files/<str:field>/", media.video_file, name="video-file"),
    path("faces/<int:pk>/select/", tasks.face_select, name="face-select"),
    path("faces/<int:pk>/thumbnail/", media.face_file, name="face-file"),
    path("audio/<int:pk>/status/", media.audio_status, name="audio-status"),
    path("audio/<int:pk>/fix/", media.audio_fix, name="audio-fix"),
    path("audio/<int:pk>/file/", media.audio_file, name="audio-file"),
    path("tasks/<uuid:pk>/", tasks.task_detail, name="task"),
    path("tasks/<uuid:pk>/status/", tasks.task_status, name="task-status"),
    path("tasks/<uuid:pk>/retry/", tasks.task_retry, name="task-retry"),
    path("tasks/<uuid:pk>/cancel/", tasks.task_cancel, name="task-cancel"),
    path("tasks/<uuid:pk>/files/<str:field>/", media.task_file, name="task-file"),
    path("hooks/engine/<uuid:pk>/<str:token>/", tasks.engine_callback, name="engine-callback"),
    path("m/<str:token>/", media.media_link, name="media-link"),
]
