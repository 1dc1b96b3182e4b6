"""The app's addresses. A path's first segment names the view module that serves it:
/projects/… → views/projects.py, /videos/… → views/videos.py, /audio/… → views/audio.py,
/tasks/… → views/tasks.py, /dubs/… → views/dubs.py, /review/… → views/review.py,
/invitations/… → views/invitations.py, /hooks/… → views/hooks.py."""

from django.urls import path

from projects.views import audio, dubs, hooks, invitations, projects, review, tasks, videos

app_name = "projects"

urlpatterns = [
    path("projects/", projects.project_list, name="list"),
    path("projects/<int:pk>/", projects.project_detail, name="detail"),
    path("projects/<int:pk>/tasks/", projects.project_tasks_panel, name="tasks-panel"),
    path("projects/<int:pk>/archive/", projects.project_archive, name="archive"),
    path("projects/<int:pk>/members/", projects.project_members, name="members"),
    path(
        "projects/<int:pk>/members/<int:membership_pk>/remove/",
        projects.membership_remove,
        name="membership-remove",
    ),
    path(
        "projects/<int:pk>/videos/upload/", projects.upload, {"kind": "video"}, name="video-upload"
    ),
    path(
        "projects/<int:pk>/audio/upload/", projects.upload, {"kind": "audio"}, name="audio-upload"
    ),
    path("projects/<int:pk>/import/", projects.url_import, name="url-import"),
    path("projects/<int:pk>/import-kling/", projects.kling_import, name="kling-import"),
    path("projects/<int:pk>/speech/", projects.tts_clip_create, name="tts-create"),
    path("videos/<int:pk>/", videos.video_workspace, name="video"),
    path("videos/<int:pk>/status/", videos.video_status, name="video-status"),
    path("videos/<int:pk>/fix/", videos.video_fix, name="video-fix"),
    path("videos/<int:pk>/faces/", videos.faces_panel, name="faces"),
    path("videos/<int:pk>/faces/identify/", videos.identify_again, name="identify"),
    path("videos/<int:pk>/quick/", videos.quick_mode, name="quick"),
    path("videos/<int:pk>/new-clip/<int:clip_pk>/", videos.new_clip_status, name="video-new-clip"),
    path("videos/<int:pk>/rename/", videos.video_rename, name="video-rename"),
    path("videos/<int:pk>/delete/", videos.video_delete, name="video-delete"),
    path("videos/<int:pk>/files/<str:field>/", videos.video_file, name="video-file"),
    path("videos/faces/<int:pk>/select/", videos.face_select, name="face-select"),
    path("videos/faces/<int:pk>/thumbnail/", videos.face_file, name="face-file"),
    path("audio/<int:pk>/status/", audio.audio_status, name="audio-status"),
    path("audio/<int:pk>/fix/", audio.audio_fix, name="audio-fix"),
    path("audio/<int:pk>/file/", audio.audio_file, name="audio-file"),
    path("audio/<int:pk>/rename/", audio.audio_rename, name="audio-rename"),
    path("audio/<int:pk>/captions/", audio.audio_captions, name="audio-captions"),
    path("audio/<int:pk>/delete/", audio.audio_delete, name="audio-delete"),
    path("audio/voices/sample/", audio.voice_sample, name="voice-sample"),
    path("tasks/<uuid:pk>/", tasks.task_detail, name="task"),
    path("tasks/<uuid:pk>/status/", tasks.task_status, name="task-status"),
    path("tasks/<uuid:pk>/retry/", tasks.task_retry, name="task-retry"),
    path("tasks/<uuid:pk>/cancel/", tasks.task_cancel, name="task-cancel"),
    path("tasks/<uuid:pk>/continue/", tasks.task_continue, name="task-continue"),
    path("tasks/<uuid:pk>/files/<str:field>/", tasks.task_file, name="task-file"),
    path("tasks/<uuid:pk>/rename/", tasks.task_rename, name="task-rename"),
    path("tasks/<uuid:pk>/captions/", tasks.task_captions, name="task-captions"),
    path("tasks/<uuid:pk>/delete/", tasks.task_delete, name="task-delete"),
    path("dubs/videos/<int:video_pk>/new/", dubs.dub_create, name="dub-create"),
    path("dubs/<int:pk>/", dubs.dub_detail, name="dub"),
    path("dubs/<int:pk>/status/", dubs.dub_status, name="dub-status"),
    path("dubs/<int:pk>/lines/", dubs.line_add, name="dub-line-add"),
    path("dubs/<int:pk>/lines/<int:line_pk>/change/", dubs.line_change, name="dub-line-change"),
    path("dubs/<int:pk>/lines/<int:line_pk>/fix/", dubs.line_fix, name="dub-line-fix"),
    path("dubs/<int:pk>/lines/<int:line_pk>/remove/", dubs.line_remove, name="dub-line-remove"),
    path("dubs/<int:pk>/clips/<int:clip_pk>/", dubs.new_clip_status, name="dub-new-clip"),
    path("dubs/<int:pk>/volume/", dubs.dub_volume, name="dub-volume"),
    path("dubs/<int:pk>/delete/", dubs.dub_delete, name="dub-delete"),
    path("dubs/<int:pk>/submit/", dubs.dub_submit, name="dub-submit"),
    path("dubs/<int:pk>/retry/", dubs.dub_retry, name="dub-retry"),
    path("dubs/<int:pk>/result/", dubs.dub_result, name="dub-result"),
    path("dubs/people/<int:pk>/thumbnail/", dubs.person_thumbnail, name="dub-person-file"),
    path("review/projects/<int:pk>/seen/", review.decisions_seen, name="decisions-seen"),
    path("invitations/<int:pk>/accept/", invitations.invitation_accept, name="invitation-accept"),
    path(
        "invitations/<int:pk>/decline/", invitations.invitation_decline, name="invitation-decline"
    ),
    path(
        "invitations/<int:pk>/withdraw/",
        invitations.invitation_withdraw,
        name="invitation-withdraw",
    ),
    path("hooks/engine/<uuid:pk>/<str:token>/", hooks.engine_callback, name="engine-callback"),
    path("hooks/media/<str:token>/", hooks.media_link, name="media-link"),
]
