"""A whole pipeline for tests: the Kling simulator, our live server, Celery workers and beat.

The simulator plays Kling on a loopback port. It fetches our media through signed links and
POSTs its callbacks to pytest-django's `live_server`, so PUBLIC_BASE_URL is the live server's
address. The same engine settings are applied in this process (the live server and the test's
own service calls) and in the environment of every worker and beat process.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import models
from django.utils import timezone

from projects import selectors
from projects.engines.simulator import RunningSimulator, SimulatorConfig, start
from projects.models import (
    FINAL_STATUSES,
    AudioClip,
    DetectedFace,
    LipSyncTask,
    Project,
    SourceVideo,
    TaskStatus,
)
from projects.services import tasks as task_services
from tests.support.fixtures import add_speech, add_video, make_face_video_file
from tests.support.simulator import ACCESS_KEY, SECRET_KEY
from tests.support.workers import (
    ROOT,
    WorkerProcess,
    database_url_for_tests,
    purge_broker,
    wait_until,
)

SIM_TASK_SECONDS = 1.0
SIM_HANG_SECONDS = 2.0  # a `hang` fault answers nothing for this long, then drops the line
SUBMIT_TIME_LIMIT_S = 10  # a `submitting` task is resubmitted by reconcile after 20 s
# Where the crop lands on the timeline: inside the face's window (see lipsync_fixtures).
CROP = {"sound_start_ms": 0, "sound_end_ms": 2500, "sound_insert_ms": 800}


# --- the simulator ---------------------------------------------------------------------------


def start_simulator(files_dir: Path, **overrides: object) -> RunningSimulator:
    """The simulator on a free loopback port, with our test credentials."""
    options: dict = {
        "port": 0,
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "task_seconds": SIM_TASK_SECONDS,
        "concurrency": 50,
        "files_dir": files_dir,
        "hang_seconds": SIM_HANG_SECONDS,
        **overrides,
    }
    return start(SimulatorConfig(**options))


def reset_simulator(sim: RunningSimulator, *, concurrency: int = 50) -> None:
    """Forget every session, task, fault and count, and use the module's default timing."""
    admin = f"{sim.url}/__sim__"
    httpx.post(f"{admin}/reset").raise_for_status()
    httpx.post(
        f"{admin}/config", json={"concurrency": concurrency, "task_seconds": SIM_TASK_SECONDS}
    ).raise_for_status()
    sim.sim.runner.prerendered_result = None


def configure_simulator(sim: RunningSimulator, **config: float) -> None:
    """Change the engine's account limit (`concurrency`) or `task_seconds` for this test."""
    httpx.post(f"{sim.url}/__sim__/config", json=config).raise_for_status()


def set_faults(sim: RunningSimulator, spec: str) -> None:
    httpx.post(f"{sim.url}/__sim__/faults", json={"faults": spec}).raise_for_status()


def sim_stats(sim: RunningSimulator) -> dict:
    return httpx.get(f"{sim.url}/__sim__/stats").json()


def use_prerendered_results(sim: RunningSimulator, video: Path) -> None:
    """Serve `video` as every result: the tests that kill workers need no real rendering."""
    sim.sim.runner.prerendered_result = video


# --- settings, here and in the workers ---------------------------------------------------------


def kling_environment(sim_url: str, public_base_url: str, **extra: str) -> dict[str, str]:
    """The variables that point the app at the simulator, as strings for a child process."""
    return {
        "LIPSYNC_ENGINE": "kling",
        "KLING_BASE_URL": sim_url,
        "KLING_ACCESS_KEY": ACCESS_KEY,
        "KLING_SECRET_KEY": SECRET_KEY,
        "PUBLIC_BASE_URL": public_base_url,
        "LIPSYNC_FETCH_ALLOWED_PRIVATE_HOSTS": "127.0.0.1",
        "LIPSYNC_POLL_INTERVALS_S": "1",
        "LIPSYNC_SUBMIT_TIME_LIMIT_S": str(SUBMIT_TIME_LIMIT_S),
        "LIPSYNC_RECONCILE_EVERY_S": "1",
        "LIPSYNC_MAX_CONCURRENT": "4",
        **extra,
    }


def apply_to_settings(settings, env: dict[str, str]) -> None:
    """The same values for this process: the live server and the test's service calls."""
    settings.LIPSYNC_ENGINE = env["LIPSYNC_ENGINE"]
    settings.KLING_BASE_URL = env["KLING_BASE_URL"]
    settings.KLING_ACCESS_KEY = env["KLING_ACCESS_KEY"]
    settings.KLING_SECRET_KEY = env["KLING_SECRET_KEY"]
    settings.PUBLIC_BASE_URL = env["PUBLIC_BASE_URL"] or None
    settings.LIPSYNC_FETCH_ALLOWED_PRIVATE_HOSTS = frozenset(
        env["LIPSYNC_FETCH_ALLOWED_PRIVATE_HOSTS"].split(",")
    )
    settings.LIPSYNC_POLL_INTERVALS_S = [int(n) for n in env["LIPSYNC_POLL_INTERVALS_S"].split(",")]
    settings.LIPSYNC_SUBMIT_TIME_LIMIT_S = int(env["LIPSYNC_SUBMIT_TIME_LIMIT_S"])
    settings.LIPSYNC_RECONCILE_EVERY_S = int(env["LIPSYNC_RECONCILE_EVERY_S"])
    settings.LIPSYNC_MAX_CONCURRENT = int(env["LIPSYNC_MAX_CONCURRENT"])


# --- processes -----------------------------------------------------------------------------------


class BeatProcess:
    """`celery beat` in a child process: it enqueues `reconcile` every LIPSYNC_RECONCILE_EVERY_S."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.process: subprocess.Popen | None = None
        self.log_path = folder / f"beat-{time.monotonic_ns()}.log"

    def start(self) -> BeatProcess:
        command = [
            sys.executable, "-m", "celery", "-A", "lipsync_web", "beat", "--loglevel", "INFO",
            "--schedule", str(self.folder / f"beat-schedule-{time.monotonic_ns()}"),
        ]  # fmt: skip
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()


@dataclass
class CeleryStack:
    """Some workers and one beat, all with the same environment; workers die and come back."""

    media_root: Path
    env: dict[str, str]
    worker_count: int = 1
    with_beat: bool = True
    workers: list[WorkerProcess] = field(default_factory=list)
    retired: list[WorkerProcess] = field(default_factory=list)
    beat: BeatProcess | None = None
    kills: int = 0

    def start(self) -> CeleryStack:
        purge_broker()
        self.workers = [self._new_worker() for _ in range(self.worker_count)]
        if self.with_beat:
            self.beat = BeatProcess(self.media_root.parent, self._child_env()).start()
        return self

    def kill_and_restart(self, index: int) -> None:
        """SIGKILL one worker, as a crash would, and start a fresh one in its place."""
        victim = self.workers[index]
        victim.kill()
        victim.log.close()
        self.retired.append(victim)
        self.kills += 1
        self.workers[index] = self._new_worker()

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        if self.beat is not None:
            self.beat.stop()

    def logs(self, chars: int = 3000) -> str:
        return "\n".join(
            f"--- {worker.log_path.name} ---\n{worker.output()[-chars:]}"
            for worker in [*self.retired[-2:], *self.workers]
        )

    def _new_worker(self) -> WorkerProcess:
        return WorkerProcess(self.media_root, self.env).start()

    def _child_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": database_url_for_tests(),
            "MEDIA_ROOT": str(self.media_root),
            **self.env,
        }


# --- data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scene:
    """A project's video with its face identified by the simulator, and a speech clip."""

    project: Project
    user: AbstractBaseUser
    video: SourceVideo
    face: DetectedFace
    clip: AudioClip


def identified_scene(project: Project, user: AbstractBaseUser, folder: Path) -> Scene:
    """Upload, probe and identify (through the simulator, once, in this process)."""
    video = add_video(project, user, make_face_video_file(folder / "presenter.mp4"))
    video.refresh_from_db()
    assert video.faces_searched, (video.face_search_state, video.face_search_message)
    faces = selectors.current_faces(video)
    assert len(faces) == 1, faces
    clip = add_speech(project, user, folder / "line.wav")
    return Scene(project=project, user=user, video=video, face=faces[0], clip=clip)


def queue_tasks(scene: Scene, count: int, *, watermark: bool = False) -> list[LipSyncTask]:
    """`count` advanced tasks made by the service the timeline form calls, queued at once."""
    data = {
        "face": scene.face,
        "audio": scene.clip,
        "sound_volume": 1.0,
        "original_audio_volume": 0.5,
        "watermark": watermark,
        **CROP,
    }
    return [
        task_services.create_advanced(video=scene.video, user=scene.user, data=data)
        for _ in range(count)
    ]


def all_final(tasks: list[LipSyncTask]) -> bool:
    ids = [task.pk for task in tasks]
    return not LipSyncTask.objects.filter(pk__in=ids).exclude(status__in=FINAL_STATUSES).exists()


def wait_for_final(tasks: list[LipSyncTask], stack: CeleryStack, timeout_s: float) -> None:
    try:
        wait_until(lambda: all_final(tasks), timeout_s=timeout_s, what="every task to end")
    except AssertionError as error:
        waiting = LipSyncTask.objects.exclude(status__in=FINAL_STATUSES).values_list(
            "pk", "status", "status_message", "create_attempts", "poll_seq"
        )
        raise AssertionError(f"{error}\nunfinished: {list(waiting)}\n{stack.logs()}") from None


# --- what must hold at the end ----------------------------------------------------------------


def referenced_media_names() -> set[str]:
    """Every stored name that some row's file field points at."""
    names: set[str] = set()
    for model in apps.get_app_config("projects").get_models():
        file_fields = [f.name for f in model._meta.get_fields() if isinstance(f, models.FileField)]
        for field_name in file_fields:
            names.update(name for name in model.objects.values_list(field_name, flat=True) if name)
    return names


def orphaned_media_files(media_root: Path) -> list[str]:
    """Files in the media folder that no row refers to."""
    on_disk = {
        path.relative_to(media_root).as_posix() for path in media_root.rglob("*") if path.is_file()
    }
    return sorted(on_disk - referenced_media_names())


def creates_per_task(stats: dict, tasks: list[LipSyncTask]) -> dict[str, int]:
    """How many tasks the simulator really made for each of ours (by external_task_id)."""
    made = stats.get("creates", {})
    return {task.external_task_id: made.get(task.external_task_id, 0) for task in tasks}


def expected_result_name(task: LipSyncTask, watermarked: bool = False) -> str:
    suffix = "-watermarked" if watermarked else ""
    return f"results/{task.project_id}/{task.pk}{suffix}.mp4"


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kling_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    running = start_simulator(tmp_path_factory.mktemp("simfiles"))
    yield running
    running.stop()


@pytest.fixture
def kling_env(kling_sim, live_server, settings) -> dict[str, str]:
    """The simulator, fresh, and the app pointed at it here and in the workers' environment."""
    reset_simulator(kling_sim)
    env = kling_environment(kling_sim.url, live_server.url)
    apply_to_settings(settings, env)
    return env


@pytest.fixture
def scene(kling_env, project, users, tmp_path) -> Scene:
    return identified_scene(project, users["editor"], tmp_path)


# --- chaos: kill workers again and again --------------------------------------------------------


@dataclass
class ChaosReport:
    kills: int = 0
    kills_by_phase: dict[str, int] = field(default_factory=dict)
    tasks: list[LipSyncTask] = field(default_factory=list)
    kill_seconds: float = 0.0
    drain_seconds: float = 0.0


CHAOS_PHASES = ("submit", "poll", "download")  # the order a task meets them
SEEN_BEGINNING = ("submit", "download")  # the phases whose start the harness can see
# On a busy machine a task can take this long to reach its download after a kill.
FIRST_SIGHTING_WAIT_S = 30.0


@dataclass
class Chaos:
    """Keeps `in_flight` tasks going and SIGKILLs workers at random moments.

    Each kill aims at the phase killed least so far (submit, poll or download; first each in
    turn, waiting up to FIRST_SIGHTING_WAIT_S for it to begin) and otherwise comes 0.5–3 s
    after the previous one. When a create attempt or a result download is seen beginning and
    that is the phase aimed at, both workers are killed, since we cannot tell which one is
    doing it; otherwise, at the end of the wait, one worker is killed at whatever point it has
    reached (recorded as `submit` when a create attempt is under way, else `poll`).

    Aiming keeps the phases even: killing every create seen would let few tasks reach their
    download. Kills are counted per worker (killing both counts two), so poll, which kills
    one, is aimed at more often: harmless, as every phase still gets its share. Downloads only
    show for as long as they last: run with `SLOW_DOWNLOADS` so each lasts long enough to be
    seen.
    """

    stack: CeleryStack
    scene: Scene
    rng: random.Random
    in_flight: int = 6
    kill_window_s: tuple[float, float] = (0.5, 3.0)
    report: ChaosReport = field(default_factory=ChaosReport)
    seen_downloads: set[Path] = field(default_factory=set)
    seen_creates: set[tuple] = field(default_factory=set)

    def run(self, kills: int, time_budget_s: float, drain_timeout_s: float) -> ChaosReport:
        started = time.monotonic()
        while self.stack.kills < kills and time.monotonic() - started < time_budget_s:
            self._top_up()
            self._kill_at_a_random_point()
        self.report.kills = self.stack.kills
        self.report.kill_seconds = time.monotonic() - started
        wait_for_final(self.report.tasks, self.stack, timeout_s=drain_timeout_s)
        self.report.drain_seconds = time.monotonic() - started - self.report.kill_seconds
        return self.report

    def _top_up(self) -> None:
        ids = [task.pk for task in self.report.tasks]
        running = LipSyncTask.objects.filter(pk__in=ids).exclude(status__in=FINAL_STATUSES)
        missing = self.in_flight - running.count()
        if missing > 0:
            self.report.tasks.extend(queue_tasks(self.scene, missing))

    def _kill_at_a_random_point(self) -> None:
        aim = self._least_killed_phase()
        deadline = time.monotonic() + self._wait_for(aim)
        while time.monotonic() < deadline:
            began = {
                "download": new_download_attempts(self.seen_downloads),
                "submit": new_create_attempts(self.seen_creates),
            }
            if began.get(aim):
                self._kill_every_worker(aim)
                return
            time.sleep(0.02)
        phase = "submit" if create_under_way() else "poll"
        self.stack.kill_and_restart(self.rng.randrange(len(self.stack.workers)))
        self._count(phase, 1)

    def _least_killed_phase(self) -> str:
        """The phase killed least; the first time round, in the order a task meets them."""
        counts = self.report.kills_by_phase
        never = [phase for phase in CHAOS_PHASES if phase not in counts]
        if never:
            return never[0]
        fewest = min(counts.values())
        return self.rng.choice([phase for phase in CHAOS_PHASES if counts[phase] == fewest])

    def _wait_for(self, aim: str) -> float:
        """How long to wait for `aim` to begin: a phase never killed yet is waited for (no
        kill meanwhile, so the tasks move on to it); after that, a random moment."""
        if aim in SEEN_BEGINNING and aim not in self.report.kills_by_phase:
            return FIRST_SIGHTING_WAIT_S
        return self.rng.uniform(*self.kill_window_s)

    def _kill_every_worker(self, phase: str) -> None:
        """We see that some worker is in `phase`, not which one: kill them all."""
        for index in range(len(self.stack.workers)):
            self.stack.kill_and_restart(index)
        self._count(phase, len(self.stack.workers))

    def _count(self, phase: str, kills: int) -> None:
        self.report.kills_by_phase[phase] = self.report.kills_by_phase.get(phase, 0) + kills


# A result download the chaos can see and kill (it polls every 20 ms): files served 0.4 s late.
SLOW_DOWNLOADS = "slow:0.4xinf@files"


def new_download_attempts(seen: set[Path]) -> list[Path]:
    """Result downloads begun since the last look (see pipeline._attempt_workdir).

    Killed attempts leave their folders until the task ends, so each folder counts once.
    """
    work = Path(django_settings.VAR_DIR) / "work"
    attempts = [attempt for task in listed(work) for attempt in listed(task)]
    fresh = [folder for folder in attempts if folder not in seen]
    seen.update(fresh)
    return fresh


def listed(folder: Path) -> list[Path]:
    """What `folder` holds; nothing if it went while we looked (its task ended and the worker
    removed it), where `Path.glob` would raise."""
    try:
        return list(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def new_create_attempts(seen: set[tuple]) -> set[tuple]:
    """Create attempts claimed since the last look, as (task, attempt number)."""
    fresh = set(attempts_under_way().values_list("pk", "create_attempts")) - seen
    seen.update(fresh)
    return fresh


def create_under_way() -> bool:
    return attempts_under_way().exists()


def attempts_under_way() -> models.QuerySet:
    """A create attempt has been claimed and has not come back (see pipeline._claim_create)."""
    recent = timezone.now() - timedelta(seconds=SUBMIT_TIME_LIMIT_S)
    return LipSyncTask.objects.filter(
        status=TaskStatus.SUBMITTING,
        create_attempts__gt=0,
        next_poll_at__isnull=True,
        status_changed_at__gt=recent,
    )
