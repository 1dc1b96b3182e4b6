"""1,000 hostile uploads through the real upload view and the real probe service.

The same generator as the test suite (tests/hostile.py): truncated MP4/MOV/MKV/M4A, HLS and
ffconcat files renamed, MOV with external data references, PNG/HTML polyglots, 60000×60000
pictures, WAVs claiming ten hours, zero bytes, random bytes, hostile names. Each is posted with
Django's test client to the upload view (a fresh SQLite database, DEBUG off), then probed by the
service as the worker would. The probes run under strace and every network reference points at
a counting loopback canary, so an outbound connection cannot go unseen.

Target: 0 accepted (no row ends `ready`), 0 server errors or leaked internals, 0 files left in
the media and temporary folders, 0 outbound connections. `--quick` runs 200. Prints one JSON
object.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
import types
from collections import Counter
from pathlib import Path

from common import app_environment, fresh_var_dir, log, percentile, quick_mode, report, setup_django

LEAK_MARKERS = ("Traceback", "Exception", "Errno", "av.error", 'File "')


def main() -> None:
    count = 200 if quick_mode() else 1000
    var_dir = fresh_var_dir("hostile")
    env = app_environment(var_dir)
    env["FILE_UPLOAD_TEMP_DIR"] = str(var_dir / "upload-tmp")
    folders = {"upload-tmp": var_dir / "upload-tmp", "tmp": var_dir / "tmp"}
    for folder in folders.values():
        folder.mkdir()
    tempfile.tempdir = str(folders["tmp"])  # anything the app leaves in temp is seen
    setup_django(env)

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from tests.test_hostile_uploads import post_upload

    from projects.mediakit import probe as probe_module
    from projects.services import membership
    from tests.support import hostile

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    user = get_user_model().objects.create_user("attacker")
    project = membership.create_project(name="Hostile", owner=user)
    client = Client()
    client.force_login(user)

    canary = hostile.Canary().start()
    tracer = hostile.ConnectTracer(var_dir / "traces")
    probe_module.subprocess = types.SimpleNamespace(
        run=lambda command, **kw: subprocess.run(tracer.wrap(list(command)), **kw),
        TimeoutExpired=subprocess.TimeoutExpired,
    )
    workshop = hostile.Workshop(var_dir / "sources", canary.url)
    inputs = var_dir / "inputs"
    inputs.mkdir()
    tally: Counter = Counter()
    probe_seconds: list[float] = []
    examples: dict[str, str] = {}
    started = time.monotonic()
    try:
        for index, case in enumerate(hostile.plan(count)):
            if index % 100 == 0:
                log(f"hostile: {index}/{count}")
            path = workshop.write(case, inputs)
            outcome, seconds = run_case(client, project, case, path, post_upload)
            path.unlink()
            tally[outcome] += 1
            if seconds is not None:
                probe_seconds.append(seconds)
            if outcome not in ("refused at upload", "rejected"):
                examples.setdefault(outcome, case.id)
    finally:
        canary.stop()
    media_left = _files(Path(settings.MEDIA_ROOT))
    temp_left = sum(_files(folder) for folder in folders.values())
    connections = len(canary.hits) + len(tracer.connections())
    bad = sum(n for outcome, n in tally.items() if outcome not in ("refused at upload", "rejected"))
    figures = {
        "files": count,
        "families": len(hostile.FAMILIES),
        "outcomes": dict(tally),
        "failures": examples,
        "accepted": tally["accepted"],
        "server_errors": tally["server error"],
        "leaked_internals": tally["leaked internals"],
        "files_left_in_media": media_left,
        "files_left_in_temp": temp_left,
        "outbound_connections": connections,
        "probes_traced": tracer.traced_commands() if tracer.available else 0,
        "probe_p50_s": round(percentile(probe_seconds, 0.5), 3),
        "probe_p95_s": round(percentile(probe_seconds, 0.95), 3),
        "total_s": round(time.monotonic() - started, 1),
    }
    met = bad == 0 and media_left == 0 and temp_left == 0 and connections == 0
    report(
        "hostile_uploads",
        figures,
        "0 accepted, 0 server errors or leaked internals, 0 files left, 0 outbound connections",
        met,
    )


def run_case(client, project, case, path: Path, post_upload) -> tuple[str, float | None]:
    """Upload and probe one case; name its outcome and how long the probe took."""
    from projects.models import AudioClip, MediaStatus, SourceVideo
    from projects.services import media as media_services

    htmx = case.variant % 2 == 0
    response = post_upload(client, project, case, path, htmx)
    if response.status_code >= 500:
        return "server error", None
    if _leaks(response.content.decode(errors="replace")):
        return "leaked internals", None
    model = SourceVideo if case.kind == "video" else AudioClip
    # Earlier cases' rows have all ended; one still "uploaded" is this case's.
    row = model.objects.filter(status=MediaStatus.UPLOADED).first()
    if row is None:
        return "refused at upload", None
    started = time.monotonic()
    probe = media_services.probe_video if case.kind == "video" else media_services.probe_audio
    probe(row.pk)
    seconds = time.monotonic() - started
    row.refresh_from_db()
    if row.status == MediaStatus.READY:
        return "accepted", seconds
    if row.status != MediaStatus.REJECTED or not row.rejection_reason:
        return f"left {row.status}", seconds
    if _leaks(row.rejection_reason):
        return "leaked internals", seconds
    return "rejected", seconds


def _leaks(text: str) -> bool:
    return any(marker in text for marker in LEAK_MARKERS)


def _files(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


if __name__ == "__main__":
    main()
