"""Dub a whole video from a script: the same services as the dub page, run in this process.

    manage.py dub VIDEO --people
    manage.py dub VIDEO --line "person=1,audio=a.wav,from=0.5,to=3,at=6" \\
        --line "person=2,text=Hello there,voice=AOT,lang=en,speed=1.0,at=7" \\
        [--original-volume 0.5] [--engine local|kling|proxy] [--project NAME] --out dub.mp4

`--people` prints the people found as JSON. With lines, the plan is printed, then run, the
result written to --out, and one JSON line ends the output. Bad input exits non-zero with the
page's own plain messages, and leaves nothing behind.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import UploadedFile
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from projects.engines.base import EngineName
from projects.mediakit.wording import clock
from projects.models import AudioClip, Dub, DubState, MediaStatus, Project, SourceVideo
from projects.services import dubs, media, membership, people
from projects.services.errors import ServiceError
from projects.services.storage import delete_quietly, sha256_of

KEYS = ("person", "audio", "from", "to", "at", "volume", "text", "voice", "lang", "speed")
# A comma starts a new field only before a known key: typed text may hold commas.
FIELD_SPLIT = re.compile(r",\s*(?=(?:" + "|".join(KEYS) + r")=)")
DEFAULT_PROJECT = "Dubs"


@dataclass
class LineSpec:
    person: int
    at_ms: int
    audio: Path | None = None
    from_ms: int = 0
    to_ms: int | None = None
    volume: float = 1.0
    text: str = ""
    voice: str = ""
    lang: str = "en"
    speed: float = 1.0


class Command(BaseCommand):
    help = "Dub a whole video: list its people, or make a dub of it from lines."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("video", help="the video file to dub")
        parser.add_argument("--people", action="store_true", help="print the people as JSON")
        parser.add_argument(
            "--line",
            action="append",
            default=[],
            help='"person=N,audio=FILE[,from=S,to=S],at=S[,volume=V]" or '
            '"person=N,text=…,voice=ID[,lang=en,speed=1.0],at=S"',
        )
        parser.add_argument("--original-volume", type=float, default=1.0)
        parser.add_argument("--engine", choices=[name.value for name in EngineName])
        parser.add_argument("--project", default=DEFAULT_PROJECT)
        parser.add_argument("--user", help="who the work is done as (default: an administrator)")
        parser.add_argument("--out", help="where to write the dubbed video (.mp4)")
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between checks")

    def handle(self, *args: object, **options) -> None:
        started = time.perf_counter()
        source = Path(options["video"])
        if not source.is_file():
            raise CommandError(f"There is no video file at {source}.")
        if not options["people"] and not options["line"]:
            raise CommandError("Give --people, or one --line or more with --out.")
        if options["line"] and not options["out"]:
            raise CommandError("Say where to write the dub with --out RESULT.mp4.")
        specs = [parse_line(text) for text in options["line"]]
        if options["engine"]:
            settings.LIPSYNC_ENGINE = options["engine"]
        user = self._user(options["user"])
        project = self._project(options["project"], user)
        video = self._video(project, user, source)
        found = people.find_now(video)
        if not found:
            raise CommandError(video.people_search_message or people.NO_FACE)
        if options["people"]:
            self.stdout.write(json.dumps({"people": people.as_json(video)}))
            if not specs:
                return
        dub = self._written_dub(video, user, specs, options["original_volume"])
        plan = dubs.submit(dub, user)
        self._print_plan(plan)
        dub = dubs.run_in_process(dub, poll_s=options["poll"])
        if dub.state != DubState.DONE:
            raise CommandError(dub.state_message or "The dub did not finish.")
        out = Path(options["out"])
        out.parent.mkdir(parents=True, exist_ok=True)
        with dub.result_file.open("rb") as result, out.open("wb") as target:
            shutil.copyfileobj(result, target)
        summary = {
            "dub": dub.pk,
            "jobs": plan.engine_tasks,
            "windows": len(plan.windows),
            "seconds_sent": round(plan.seconds_sent, 3),
            "timings": {**dub.timings, "total_s": round(time.perf_counter() - started, 3)},
            "result": str(out.resolve()),
        }
        self.stdout.write(json.dumps(summary))

    # --- who, where, what ------------------------------------------------------------------

    def _user(self, name: str | None):
        users = get_user_model().objects
        user = users.filter(username=name).first() if name else None
        if name and user is None:
            raise CommandError(f"There is no user called {name}.")
        user = user or users.filter(is_superuser=True).order_by("pk").first()
        if user is None:
            raise CommandError("Create an administrator first: manage.py ensure_admin.")
        return user

    def _project(self, name: str, user) -> Project:
        project = Project.objects.filter(name=name, memberships__user=user).first()
        return project or membership.create_project(name=name, owner=user)

    def _video(self, project: Project, user, path: Path) -> SourceVideo:
        """The project's copy of the file (one upload per content), checked here."""
        digest = sha256_of(path)
        known = SourceVideo.objects.filter(
            project=project, sha256=digest, made_for_dub__isnull=True
        ).first()
        if known is None:
            known = _upload(
                path,
                digest,
                lambda file: media.upload_video(project=project, user=user, uploaded=file),
            )
            media.probe_video(known.pk)
            known.refresh_from_db()
        if known.status == MediaStatus.REJECTED:
            raise CommandError(known.rejection_reason)
        if known.dub_refusal:
            raise CommandError(known.dub_refusal)
        return known

    def _written_dub(self, video: SourceVideo, user, specs: list[LineSpec], volume: float) -> Dub:
        """The dub with its lines, checked by the rules and planned; on any refusal nothing
        of it is kept (files included) and the refusal is the error."""
        made: list[AudioClip] = []
        try:
            with transaction.atomic():
                dub = dubs.create(video=video, user=user, original_volume=volume)
                for spec in specs:
                    clip = self._clip(dub, user, spec)
                    made.append(clip)
                    end = spec.to_ms
                    dubs.add_line(
                        dub,
                        dubs.LineInput(
                            person=spec.person,
                            at_ms=spec.at_ms,
                            audio=clip,
                            crop_start_ms=spec.from_ms,
                            crop_end_ms=end,
                            volume=spec.volume,
                        ),
                    )
                _refuse_broken_lines(dub)
                dubs.plan_for(dub)
        except ServiceError as error:
            for clip in made:
                delete_quietly(clip.file)
            raise CommandError(str(error)) from error
        return dub

    def _clip(self, dub: Dub, user, spec: LineSpec) -> AudioClip:
        if spec.text:
            return dubs.speech_clip(
                dub, text=spec.text, voice_id=spec.voice, language=spec.lang, speed=spec.speed
            )
        digest = sha256_of(spec.audio)
        clip = _upload(
            spec.audio,
            digest,
            lambda file: media.upload_audio(project=dub.project, user=user, uploaded=file),
        )
        media.probe_audio(clip.pk)
        clip.refresh_from_db()
        if not clip.is_ready:
            delete_quietly(clip.file)
            raise ServiceError(f"{spec.audio.name}: {clip.unusable_reason}")
        return clip

    def _print_plan(self, plan) -> None:
        summary = plan.summary()
        self.stdout.write(
            f"Plan: {summary['engine_tasks']} engine tasks in {summary['windows']} windows, "
            f"{summary['seconds_sent']} s of video sent."
        )
        for row in dubs.plan_rows(plan):
            who = ", ".join(str(number) for number in row["people"])
            self.stdout.write(
                f"  window {row['number']}: {clock(row['start_ms'])}–{clock(row['end_ms'])}, "
                f"people {who}, {row['seconds_sent']:.1f} s sent"
            )


def _upload(path: Path, digest: str, accept):
    with path.open("rb") as handle:
        uploaded = UploadedFile(file=handle, name=path.name, size=path.stat().st_size)
        uploaded.sha256 = digest
        return accept(uploaded)


def _refuse_broken_lines(dub: Dub) -> None:
    checks = dubs.line_checks(dub)
    for number, line in enumerate(dub.lines.select_related("person").order_by("pk"), start=1):
        check = checks.get(line.pk)
        if check and check.violations:
            first = check.violations[0]
            raise ServiceError(
                f"Line {number} (person {line.person.number} at {clock(line.at_ms)}): "
                f"{first.message} {first.fix}"
            )


def parse_line(text: str) -> LineSpec:
    """One --line's fields; CommandError in plain words for anything missing or unreadable."""
    fields: dict[str, str] = {}
    for part in FIELD_SPLIT.split(text.strip()):
        key, equals, value = part.partition("=")
        key = key.strip()
        if not equals or key not in KEYS:
            raise CommandError(
                f"In --line “{text}”: “{part}” is not one of {', '.join(KEYS)} with a value."
            )
        fields[key] = value.strip()
    for needed in ("person", "at"):
        if needed not in fields:
            raise CommandError(f"In --line “{text}”: say {needed}=….")
    if ("audio" in fields) == ("text" in fields):
        raise CommandError(f"In --line “{text}”: give either audio=FILE or text=… with voice=ID.")
    spec = LineSpec(
        person=_number(fields["person"], "person", text, int),
        at_ms=_ms(fields["at"], "at", text),
        from_ms=_ms(fields.get("from", "0"), "from", text),
        to_ms=_ms(fields["to"], "to", text) if "to" in fields else None,
        volume=_number(fields.get("volume", "1"), "volume", text, float),
        text=fields.get("text", ""),
        voice=fields.get("voice", ""),
        lang=fields.get("lang", "en"),
        speed=_number(fields.get("speed", "1.0"), "speed", text, float),
    )
    if "audio" in fields:
        spec.audio = Path(fields["audio"])
        if not spec.audio.is_file():
            raise CommandError(f"In --line “{text}”: there is no audio file at {spec.audio}.")
    elif not spec.voice:
        raise CommandError(f"In --line “{text}”: typed text needs a voice=ID.")
    return spec


def _number(value: str, name: str, text: str, kind):
    try:
        return kind(value)
    except ValueError:
        raise CommandError(f"In --line “{text}”: {name}={value} is not a number.") from None


def _ms(value: str, name: str, text: str) -> int:
    seconds = _number(value, name, text, float)
    if seconds < 0:
        raise CommandError(f"In --line “{text}”: {name} cannot be before 0 s.")
    return round(seconds * 1000)
