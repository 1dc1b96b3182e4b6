"""`manage.py dub`: the people as JSON, a whole dub from lines, and bad input in plain words."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import av
import pytest
from django.core.management import CommandError, call_command

from projects.models import ApiCall, AudioClip, Dub, LipSyncTask
from tests.support.dubs import SHORT_MS, face_tracks_found_once, write_short_dub_video
from tests.support.numbered_media import speech_like, write_wav

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture(scope="module")
def video_file(tmp_path_factory) -> Path:
    return write_short_dub_video(tmp_path_factory.mktemp("dubcmd") / "interview.mp4")


@pytest.fixture(autouse=True)
def _search_each_file_once():
    """The command searches the video for people each time; the first search of the file in
    this run is real, the others reuse its face tracks."""
    with face_tracks_found_once():
        yield


@pytest.fixture
def admin(django_user_model):
    return django_user_model.objects.create_superuser("admin", "", "pw")


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command("dub", *args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_people_are_printed_as_json_numbered_in_order_of_appearance(admin, video_file):
    (printed,) = run(str(video_file), "--people")
    found = json.loads(printed)["people"]
    assert [person["person"] for person in found] == [1, 2]
    assert len(found[0]["windows_ms"]) == 2
    assert abs(found[1]["windows_ms"][0][0] - 4_000) <= 300


def test_a_dub_from_an_audio_line_and_a_typed_line(admin, video_file, tmp_path):
    speech = write_wav(tmp_path / "hello.wav", speech_like(1, 3_000))
    out = tmp_path / "dubbed.mp4"
    printed = run(
        str(video_file),
        "--line", f"person=1,audio={speech},from=0.2,to=2.7,at=6",
        "--line", "person=2,text=Hello, and welcome back,voice=AOT,lang=en,at=7",
        "--original-volume", "0.5",
        "--out", str(out),
        "--poll", "0.05",
    )  # fmt: skip
    assert printed[0].startswith("Plan: 2 engine tasks in 1 windows")
    summary = json.loads(printed[-1])
    assert summary["jobs"] == 2 and summary["windows"] == 1
    assert summary["result"] == str(out.resolve())
    assert {"plan_s", "assembly_s", "total_s"} <= set(summary["timings"])
    with av.open(str(out)) as result:
        frames = sum(1 for _ in result.decode(video=0))
    assert abs(frames - SHORT_MS * 12 / 1000) <= 1
    assert ApiCall.objects.filter(endpoint__contains="create_advanced").count() == 2


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("person=1,audio={speech},at=19", "not on screen"),
        ("person=3,audio={speech},at=5", "no person 3"),
        ("person=1,at=5", "give either audio=FILE or text"),
        ("person=1,audio=/nowhere.wav,at=5", "no audio file at /nowhere.wav"),
        ("person=1,audio={speech},at=soon", "at=soon is not a number"),
        ("person=2,text={long},voice=AOT,at=5", "at most 120"),
    ],
)
def test_bad_input_exits_in_plain_words_and_leaves_nothing(
    admin, video_file, tmp_path, line, words
):
    speech = write_wav(tmp_path / "hello.wav", speech_like(1, 3_000))
    line = line.format(speech=speech, long="word " * 40)
    with pytest.raises(CommandError, match=words):
        run(str(video_file), "--line", line, "--out", str(tmp_path / "x.mp4"))
    assert not Dub.objects.exists()
    assert not AudioClip.objects.exists()
    assert not LipSyncTask.objects.exists()
    assert not (tmp_path / "x.mp4").exists()


def test_overlapping_lines_of_one_person_are_refused(admin, video_file, tmp_path):
    speech = write_wav(tmp_path / "hello.wav", speech_like(1, 3_000))
    with pytest.raises(CommandError, match="overlaps person 2's line"):
        run(
            str(video_file),
            "--line", f"person=2,audio={speech},at=8",
            "--line", f"person=2,audio={speech},at=9",
            "--out", str(tmp_path / "x.mp4"),
        )  # fmt: skip
    assert not Dub.objects.exists()


def test_a_missing_video_is_told_plainly(admin, tmp_path):
    with pytest.raises(CommandError, match="There is no video file at"):
        run(str(tmp_path / "none.mp4"), "--people")
