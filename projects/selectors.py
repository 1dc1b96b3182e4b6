"""What pages read: the queries behind the views' contexts, in one place.

Views build their page contexts from these; services change state and never render. Each
function returns plain rows, lists or small dataclasses; none writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.paginator import Page, Paginator
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, TruncMonth

from projects.access import AnyUser, invitations_addressed_to
from projects.models import (
    ApiCall,
    AudioClip,
    DetectedFace,
    Dub,
    DubJob,
    Invitation,
    Line,
    LipSyncTask,
    MediaStatus,
    Membership,
    Person,
    Project,
    SourceVideo,
)
from projects.services.errors import ServiceError

# Rendering a task row costs about 0.25 ms: a page of all of a busy project's tasks (hundreds)
# is slow to serve and to read, so the list is paged, newest first.
TASKS_PER_PAGE = 25
# The notice on the project page lists at most this many decisions (the newest).
NOTICE_LIMIT = 20


# --- Projects ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TasksPage:
    """One page of a project's tasks, and whether any of them may still change."""

    page: Page
    tasks: list[LipSyncTask]

    @property
    def in_flight(self) -> bool:
        return any(not task.is_final for task in self.tasks)


# A list of tasks names their video and clip; it never draws them. A waveform is thousands of
# numbers, decoded again for every row that names its media (bench/bench_load.py).
LISTED_MEDIA_LEAVES_OUT = (
    "video__waveform",
    "video__media_info",
    "audio__waveform",
    "audio__media_info",
)


def project_tasks_page(project: Project, number: str | int | None = 1) -> TasksPage:
    tasks = with_person_numbers(
        project.tasks.filter(video__made_for_dub__isnull=True)
        .select_related("video", "face", "audio")
        .defer(*LISTED_MEDIA_LEAVES_OUT)
        .order_by("-created_at")
    )
    page = Paginator(tasks, TASKS_PER_PAGE).get_page(number)
    listed = list(page.object_list)
    for task in listed:
        if task.face is not None:
            task.face.listed_as = task.face_person_number
    return TasksPage(page=page, tasks=listed)


def with_person_numbers(tasks: QuerySet[LipSyncTask]) -> QuerySet[LipSyncTask]:
    """Tasks annotated with their face's place in the face picker (`face_person_number`), so
    that a list of task names costs one query, not one per task (DetectedFace.person_number)."""
    earlier = (
        DetectedFace.objects.filter(
            video_id=OuterRef("face__video_id"),
            engine=OuterRef("face__engine"),
            session_id=OuterRef("face__session_id"),
        )
        .filter(
            Q(start_ms__lt=OuterRef("face__start_ms"))
            | Q(
                start_ms=OuterRef("face__start_ms"),
                engine_face_id__lt=OuterRef("face__engine_face_id"),
            )
        )
        .order_by()
        .values("video_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return tasks.annotate(face_person_number=Coalesce(Subquery(earlier), 0) + 1)


def project_videos(project: Project) -> QuerySet[SourceVideo]:
    return project.videos.listed().order_by("-created_at")


def project_audio_clips(project: Project) -> QuerySet[AudioClip]:
    return project.audio_clips.listed().order_by("-created_at")


def ready_audio_clips(project: Project) -> QuerySet[AudioClip]:
    """The clips an editor can put on the timeline."""
    return project.audio_clips.usable().filter(made_for_dub__isnull=True).order_by("-created_at")


def unusable_audio_clips(project: Project) -> list[AudioClip]:
    """Readable clips that are not offered on the timeline or in quick mode, each with
    `unusable_reason` to say why."""
    ready = project.audio_clips.listed().filter(status=MediaStatus.READY)
    return [clip for clip in ready if clip.needs_fix]


def clip_in_project(project: Project, pk: str | None) -> AudioClip | None:
    """The project's audio clip whose id is the text `pk`; None for anything else."""
    if not (pk or "").isdigit() or len(pk) > 18:  # a number the database's ids can hold
        return None
    return project.audio_clips.filter(pk=int(pk)).first()


def membership_of(user: AnyUser, project: Project) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user_id=user.pk, project=project).first()


def project_members(project: Project) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("user__username")


def pending_invitations(project: Project) -> QuerySet[Invitation]:
    """The project's invitations still waiting for an answer, for its members page."""
    return Invitation.open_ones().filter(project=project).select_related("invited_by")


def invitations_to_answer(user: AnyUser) -> QuerySet[Invitation]:
    """The notice on the projects page: invitations the person may accept or decline."""
    return invitations_addressed_to(user).select_related("project", "invited_by")


# --- Review decisions and credits -------------------------------------------------------------


def decisions_since_last_visit(membership: Membership) -> list[LipSyncTask]:
    """Decisions on this member's own tasks taken since they last marked them as seen
    (one more than the notice shows, to tell whether there are more)."""
    decided = LipSyncTask.objects.filter(
        project_id=membership.project_id,
        created_by_id=membership.user_id,
        reviewed_at__isnull=False,
    )
    if membership.decisions_seen_at is not None:
        decided = decided.filter(reviewed_at__gt=membership.decisions_seen_at)
    return list(
        decided.select_related("video", "reviewer").order_by("-reviewed_at")[: NOTICE_LIMIT + 1]
    )


@dataclass(frozen=True)
class MonthCredits:
    project_id: int
    project_name: str
    month: datetime
    tasks: int  # lip-sync tasks charged
    credits: Decimal  # everything charged: the tasks, speech and face identification
    other_units: Decimal = Decimal(0)  # of which text to speech and face identification


def credits_by_month(
    tasks: QuerySet[LipSyncTask], calls: QuerySet[ApiCall] | None = None
) -> list[MonthCredits]:
    """Credits charged, summed per project and per month (the month the task finished in).

    `calls`: engine calls charged on their own (Kling's text to speech and identify-face),
    counted in the month they were made. Two queries, whatever the number of rows. Newest
    month first.
    """
    rows = (
        tasks.filter(credits_charged__gt=0)  # a task charged nothing was not charged
        .annotate(month=TruncMonth(Coalesce("finished_at", "created_at")))
        .order_by()  # drop the model's ordering: it would split the groups
        .values("project_id", "project__name", "month")
        .annotate(tasks=Count("pk"), credits=Sum("credits_charged"))
    )
    totals: dict[tuple[int, datetime], dict] = {
        (row["project_id"], row["month"]): {**row, "other": Decimal(0)} for row in rows
    }
    for row in _charged_calls_by_month(calls):
        key = (row["charged_project"], row["month"])
        entry = totals.setdefault(
            key,
            {
                "project_id": row["charged_project"],
                "project__name": row["project_name"],
                "month": row["month"],
                "tasks": 0,
                "credits": Decimal(0),
                "other": Decimal(0),
            },
        )
        entry["other"] += row["units"]
    found = [
        MonthCredits(
            project_id=row["project_id"],
            project_name=row["project__name"],
            month=row["month"],
            tasks=row["tasks"],
            credits=row["credits"] + row["other"],
            other_units=row["other"],
        )
        for row in totals.values()
    ]
    found.sort(key=lambda row: row.project_name)
    found.sort(key=lambda row: row.month, reverse=True)
    return found


def charged_calls(project: Project) -> QuerySet[ApiCall]:
    """The engine calls of a project charged on their own (speech, face identification)."""
    return ApiCall.objects.filter(
        Q(audio__project=project) | Q(video__project=project) | Q(task__project=project),
        units__isnull=False,
    )


def _charged_calls_by_month(calls: QuerySet[ApiCall] | None) -> list[dict]:
    if calls is None:
        return []
    project = Coalesce("audio__project_id", "video__project_id", "task__project_id")
    name = Coalesce("audio__project__name", "video__project__name", "task__project__name")
    return list(
        calls.filter(units__isnull=False)
        .annotate(month=TruncMonth("created_at"), charged_project=project, project_name=name)
        .order_by()
        .values("charged_project", "project_name", "month")
        .annotate(units=Sum("units"))
    )


# --- Videos and faces -------------------------------------------------------------------------


def current_faces(video: SourceVideo) -> list[DetectedFace]:
    """The faces of the video's latest face search, in the picker's order, each knowing its
    person number without a query of its own."""
    if not video.faces_searched:
        return []
    found = list(
        video.faces.filter(
            engine=video.face_search_engine, session_id=video.face_session_id
        ).order_by(*DetectedFace.PICKER_ORDER)
    )
    for number, face in enumerate(found, start=1):
        face.listed_as = number
    return found


def chosen_face(
    video: SourceVideo, user: AnyUser, found: list[DetectedFace]
) -> DetectedFace | None:
    """The face this person picked on the video, if it is among the faces `found` now; with
    one face in the video, that face: there is nothing else to pick."""
    if user.is_authenticated:
        choice = video.face_choices.filter(user=user).values_list("face_id", flat=True).first()
        picked = next((face for face in found if face.pk == choice), None)
        if picked is not None:
            return picked
    return found[0] if len(found) == 1 else None


def fixed_copies(video: SourceVideo) -> QuerySet[SourceVideo]:
    """The conforming copies made from this video by "fix it for me"."""
    return video.project.videos.filter(media_info__derived_from=video.pk)


def task_history(task: LipSyncTask):
    return task.audit_events.select_related("actor").order_by("created_at")


# --- The engine's log of a task (the review panel) --------------------------------------------


@dataclass(frozen=True)
class LogRow:
    """One call, or a run of identical failed calls shown as one line ("95 × …")."""

    first: ApiCall
    last: ApiCall
    count: int

    @property
    def is_run(self) -> bool:
        return self.count > 1


def engine_log(task: LipSyncTask, *, limit: int = 200) -> list[LogRow]:
    """The task's calls to and from the engine, oldest first, with consecutive identical
    failures (same call, same error) collapsed into one row, so that an hour of outage is one
    line, not hundreds. At most `limit` rows (the newest are kept)."""
    rows: list[LogRow] = []
    for call in task_engine_calls(task).order_by("created_at", "pk").iterator():
        previous = rows[-1] if rows else None
        if previous is not None and call.error and _same_failure(previous.last, call):
            rows[-1] = LogRow(first=previous.first, last=call, count=previous.count + 1)
        else:
            rows.append(LogRow(first=call, last=call, count=1))
    return rows[-limit:]


def task_engine_calls(task: LipSyncTask) -> QuerySet[ApiCall]:
    """The task's own calls, and the face searches of its video that found its face (made
    before the task, on the video's page)."""
    searches = Q(video_id=task.video_id, task__isnull=True, endpoint__contains="identify")
    return ApiCall.objects.filter(Q(task=task) | searches)


def _same_failure(earlier: ApiCall, later: ApiCall) -> bool:
    return (earlier.method, earlier.endpoint, earlier.http_status, earlier.error) == (
        later.method,
        later.endpoint,
        later.http_status,
        later.error,
    )


@dataclass(frozen=True)
class CallCounts:
    """The task's engine calls by kind, counted from its log (not from bookkeeping fields)."""

    creates: int
    lookups: int
    status_checks: int
    face_searches: int
    callbacks: int
    failed: int

    @property
    def total_out(self) -> int:
        return self.creates + self.lookups + self.status_checks + self.face_searches


def engine_call_counts(task: LipSyncTask) -> CallCounts:
    counts = {"creates": 0, "lookups": 0, "status_checks": 0, "face_searches": 0, "callbacks": 0}
    failed = 0
    calls = task_engine_calls(task).values_list("method", "endpoint", "error")
    for method, endpoint, error in calls:
        counts[_call_kind(method, endpoint)] += 1
        failed += bool(error) and method != ApiCall.CALLBACK_METHOD
    return CallCounts(failed=failed, **counts)


def _call_kind(method: str, endpoint: str) -> str:
    """Which kind of call a row is, from Kling's paths (or the local engine's call names)."""
    if method == ApiCall.CALLBACK_METHOD:
        return "callbacks"
    if "identify" in endpoint:
        return "face_searches"
    if method == "POST" or endpoint.startswith("create"):
        return "creates"
    if endpoint == "list_tasks" or endpoint.rstrip("/").endswith(LIST_PATH_ENDINGS):
        return "lookups"  # the task list, paged through for our external id
    return "status_checks"


LIST_PATH_ENDINGS = ("/advanced-lip-sync", "/lip-sync")
# --- Dubs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DubLineRow:
    line: Line
    problems: list[dict]  # {"message", "fix", "fixable"}
    notes: tuple[str, ...]
    left_pct: float  # the line's block on its person's row
    width_pct: float


@dataclass(frozen=True)
class DubPersonRow:
    person: Person
    lines: list[DubLineRow]
    spans: list[dict]  # {"start_ms", "end_ms", "left_pct", "width_pct"}: the on-screen bar


@dataclass(frozen=True)
class DubBoard:
    """What the dub page shows: people with their lines and rules, the plan, the jobs."""

    dub: Dub
    people: list[DubPersonRow]
    plan: dict | None  # summary and rows, when the lines make a plan
    plan_refusal: str
    jobs: list[DubJob]

    @property
    def jobs_done(self) -> int:
        return sum(1 for job in self.jobs if job.is_done)

    @property
    def settled(self) -> bool:
        """Nothing on the page changes by itself any more."""
        return not self.dub.is_busy and not self.dub.source.is_searching_people


def dub_board(dub: Dub) -> DubBoard:
    from projects.services import dubs as dub_services  # the plan is a service's read

    video = dub.source
    duration = max(video.duration_ms or 1, 1)
    # While the dub is made (the page polls every second) its lines cannot change: they met
    # every rule when it was submitted, and its plan was kept then.
    kept_plan = dub.plan if dub.is_busy and "rows" in (dub.plan or {}) else None
    checks = dub_services.line_checks(dub) if video.people_searched and not kept_plan else {}
    lines_by_person: dict[int, list[DubLineRow]] = {}
    for line in dub.lines.select_related("audio", "person"):
        check = checks.get(line.pk)
        problems = [
            {"message": v.message, "fix": v.fix, "fixable": v.fixed is not None}
            for v in (check.violations if check else ())
        ]
        row = DubLineRow(
            line,
            problems,
            check.notes if check else (),
            round(100 * line.at_ms / duration, 3),
            round(100 * line.duration_ms / duration, 3),
        )
        lines_by_person.setdefault(line.person_id, []).append(row)
    people_rows = [
        DubPersonRow(
            person,
            lines_by_person.get(person.pk, []),
            [
                {
                    "start_ms": start,
                    "end_ms": end,
                    "left_pct": round(100 * start / duration, 3),
                    "width_pct": round(100 * (end - start) / duration, 3),
                }
                for start, end in person.spans
            ],
        )
        for person in video.people.all()
    ]
    plan, refusal = kept_plan, ""
    if kept_plan is None and dub.lines.exists() and video.people_searched:
        try:
            made = dub_services.plan_for(dub)
            plan = {**made.summary(), "rows": dub_services.plan_rows(made)}
        except ServiceError as error:
            refusal = str(error)
    jobs = list(dub.jobs.select_related("task", "person"))
    return DubBoard(dub, people_rows, plan, refusal, jobs)


def dub_audio_clips(project: Project) -> QuerySet[AudioClip]:
    """Clips a dub's line may use: any checked clip (a line crops it, and its job's clip is
    made by us within the engine's limits)."""
    return project.audio_clips.filter(status=MediaStatus.READY, made_for_dub__isnull=True).order_by(
        "-created_at"
    )
