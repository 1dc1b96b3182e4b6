"""The Celery application. Configuration comes from Django settings (prefix CELERY_)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lipsync_web.settings")

app = Celery("lipsync_web")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    # Long tasks (identify, render) must not sit in one worker's prefetch while another idles.
    worker_prefetch_multiplier=1,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_soft_time_limit=15 * 60,
    task_time_limit=16 * 60,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
# Our tasks live in projects/background.py (the word "task" is the lip-sync task's).
app.autodiscover_tasks(related_name="background")
