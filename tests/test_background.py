"""A view enqueues after commit and a real Celery worker process updates the row.

Run twice by `make test`: on the embedded filesystem broker with SQLite, and in the
integration tier on Redis with PostgreSQL.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from projects.models import MediaStatus, SourceVideo
from tests.support.mediagen import make_video
from tests.support.workers import WorkerProcess, purge_broker, wait_until


def upload_and_wait_for_worker(clients, project, tmp_path, media_root) -> None:
    purge_broker()
    worker = WorkerProcess(media_root).start()
    try:
        path = make_video(tmp_path / "clip.mp4", width=640, height=512, duration_s=2.2)
        with path.open("rb") as handle:
            response = clients["editor"].post(
                reverse("projects:video-upload", args=[project.pk]), {"file": handle}
            )
        assert response.status_code == 302
        video = SourceVideo.objects.get()

        def probed() -> bool:
            video.refresh_from_db()
            return video.status == MediaStatus.READY

        wait_until(probed, timeout_s=90, what="the worker to probe the upload", worker=worker)
        assert video.width == 640 and video.poster
    finally:
        worker.stop()


@pytest.mark.django_db(transaction=True)
def test_round_trip_on_the_embedded_broker(clients, project, tmp_path, _media_root, settings):
    assert settings.CELERY_BROKER_URL.startswith("filesystem://")
    upload_and_wait_for_worker(clients, project, tmp_path, _media_root)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_round_trip_on_redis_and_postgresql(clients, project, tmp_path, _media_root, settings):
    from django.db import connection

    assert settings.CELERY_BROKER_URL.startswith("redis://")
    assert connection.vendor == "postgresql"
    upload_and_wait_for_worker(clients, project, tmp_path, _media_root)
