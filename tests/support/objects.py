"""One of each kind of object in a project, for tests that walk every page or route."""

from __future__ import annotations


def project_objects(project, user) -> dict:
    """One of each kind of object in `project`, each with a stored file."""
    from datetime import timedelta

    from django.core.files.base import ContentFile
    from django.utils import timezone

    from projects.models import (
        AudioClip,
        DetectedFace,
        Dub,
        Line,
        LipSyncTask,
        MediaStatus,
        Person,
        SourceVideo,
    )

    video = SourceVideo(project=project, original_name="v.mp4", created_by=user)
    video.status = MediaStatus.READY
    video.file.save("v.mp4", ContentFile(b"video bytes"), save=False)
    video.save()
    audio = AudioClip(project=project, source="upload", original_name="a.mp3", created_by=user)
    audio.file.save("a.mp3", ContentFile(b"audio bytes"), save=False)
    audio.save()
    face = DetectedFace(
        video=video,
        engine="local",
        session_id="s1",
        session_expires_at=timezone.now() + timedelta(hours=24),
        engine_face_id="0",
        start_ms=0,
        end_ms=3000,
    )
    face.thumbnail.save("f.jpg", ContentFile(b"jpeg bytes"), save=False)
    face.save()
    task = LipSyncTask(
        project=project,
        video=video,
        face=face,
        audio=audio,
        sound_end_ms=3000,
        engine="local",
        created_by=user,
    )
    task.result_file.save("r.mp4", ContentFile(b"result bytes"), save=False)
    task.save()
    person = Person(video=video, number=1, windows=[[0, 3000]])
    person.thumbnail.save("p.jpg", ContentFile(b"jpeg bytes"), save=False)
    person.save()
    dub = Dub(project=project, source=video, engine="local", state="done", created_by=user)
    dub.result_file.save("d.mp4", ContentFile(b"dub bytes"), save=False)
    dub.save()
    line = Line.objects.create(dub=dub, person=person, audio=audio, crop_end_ms=2000, at_ms=0)
    return {
        "video": video,
        "audio": audio,
        "face": face,
        "task": task,
        "person": person,
        "dub": dub,
        "line": line,
    }
