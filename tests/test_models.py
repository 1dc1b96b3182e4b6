"""State rules kept on the models, read by the pages; where a rule has a second home in SQL,
the two agree."""

from __future__ import annotations

import pytest

from projects.engines.base import TaskKind
from projects.models import AudioClip, AudioSource, LipSyncTask, MediaStatus


@pytest.mark.parametrize(
    ("kind", "insert_ms", "compare_from_ms"),
    [
        (TaskKind.ADVANCED, 4_500, 3_500),
        (TaskKind.ADVANCED, 600, 0),  # never before the video's start
        (TaskKind.BASIC, 0, 0),  # the whole video: its speech starts with it
    ],
)
def test_before_and_after_are_compared_from_a_second_before_the_new_speech(
    kind, insert_ms, compare_from_ms
):
    task = LipSyncTask(kind=kind, sound_insert_ms=insert_ms)
    assert task.compare_from_ms == compare_from_ms


TOO_SHORT = {"code": "too_short", "message": "This sound is 1 s long.", "fix": None}


@pytest.mark.django_db
def test_usable_in_the_database_is_is_usable(project, users):
    states = [
        (MediaStatus.READY, {"problems": []}),
        (MediaStatus.READY, {"problems": [TOO_SHORT]}),
        (MediaStatus.READY, {}),  # never probed here
        (MediaStatus.PROBING, {"problems": []}),
        (MediaStatus.REJECTED, {"problems": []}),
    ]
    for number, (status, media_info) in enumerate(states):
        AudioClip.objects.create(
            project=project,
            source=AudioSource.UPLOAD,
            file=f"audio/{number}.wav",
            status=status,
            media_info=media_info,
            created_by=users["editor"],
        )
    # Quick mode's typed speech: ready, with nothing wrong, but no file to place.
    AudioClip.objects.create(
        project=project,
        source=AudioSource.UPLOAD,
        status=MediaStatus.READY,
        media_info={"problems": []},
        created_by=users["editor"],
    )
    in_python = {clip.pk for clip in AudioClip.objects.all() if clip.is_usable}
    assert len(in_python) == 1
    assert set(AudioClip.objects.usable().values_list("pk", flat=True)) == in_python


@pytest.mark.django_db
def test_quick_mode_typed_text_is_no_clip_to_list_or_place(project, users):
    """The engine speaks quick mode's text: its row has no file and is no audio clip."""
    from projects import selectors
    from projects.models import AudioClip, AudioSource, MediaStatus

    spoken = AudioClip.objects.create(
        project=project,
        source=AudioSource.TTS,
        tts_text="Welcome aboard.",
        voice_id="v1",
        status=MediaStatus.READY,
        created_by=users["editor"],
    )
    being_made = AudioClip.objects.create(
        project=project,
        source=AudioSource.TTS,
        tts_text="Still being spoken.",
        voice_id="v1",
        status=MediaStatus.PROBING,
        created_by=users["editor"],
    )
    listed = list(selectors.project_audio_clips(project))
    assert spoken not in listed and being_made in listed
    assert spoken not in selectors.ready_audio_clips(project)


# --- dubs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "edit", "retry", "busy"),
    [
        ("draft", True, False, False),
        ("running", False, False, True),
        ("assembling", False, False, True),
        ("paused", True, True, False),
        ("done", True, False, False),
    ],
)
def test_a_dubs_state_rules(state, edit, retry, busy):
    from projects.models import Dub

    dub = Dub(state=state)
    assert (dub.can_edit, dub.can_submit, dub.can_retry, dub.is_busy) == (edit, edit, retry, busy)


def _ready_video(**facts):
    from projects.models import SourceVideo

    facts.setdefault("media_info", {"problems": []})
    return SourceVideo(status=MediaStatus.READY, **facts)


def test_a_video_longer_than_one_task_can_be_dubbed_up_to_thirty_minutes():
    too_long = {"code": "too_long", "message": "Too long.", "fix": "trim"}
    video = _ready_video(duration_ms=25 * 60_000, media_info={"problems": [too_long]})
    assert video.can_dub
    video.duration_ms = 30 * 60_000 + 1
    assert "up to 30 minutes" in video.dub_refusal


def test_a_video_over_two_gigabytes_cannot_be_dubbed():
    video = _ready_video(duration_ms=60_000, size_bytes=2 * 1024**3 + 1)
    assert "(2 GB)" in video.dub_refusal


def test_a_dubs_video_still_needs_a_format_the_engine_reads():
    wrong = {"code": "wrong_codec", "message": "This video uses ProRes.", "fix": "reencode"}
    video = _ready_video(duration_ms=90_000, media_info={"problems": [wrong]})
    assert video.dub_refusal == "This video uses ProRes."
