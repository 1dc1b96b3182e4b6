"""How tasks look on the wire: the official data object, callbacks, and the proxy's flat object."""

from __future__ import annotations

from projects.engines.simulator.state import SimTask, TtsTask


def task_data(task: SimTask) -> dict:
    """The official single-task `data` (also each item of a list, and the flat callback body)."""
    data: dict = {
        "task_id": task.task_id,
        "task_status": task.status,
        "task_status_msg": task.status_msg,
        "task_info": {
            "parent_video": dict(task.parent_video),
            "external_task_id": task.external_task_id,
        },
        "task_result": {"videos": [dict(video) for video in task.videos]},
        "watermark_info": {"enabled": task.watermark},
        "final_unit_deduction": task.units,
        "created_at": task.created_ms,
        "updated_at": task.updated_ms,
    }
    return data


def created_data(task: SimTask) -> dict:
    """What a create answers: the task's id and first status."""
    return {
        "task_id": task.task_id,
        "task_info": {"external_task_id": task.external_task_id},
        "task_status": task.status,
        "created_at": task.created_ms,
        "updated_at": task.updated_ms,
    }


def proxy_object(task: SimTask) -> dict:
    """The proxy's flat answer and callback: `{success, task_id, video_id, video_url, ...}`."""
    video = task.videos[0] if task.videos else {}
    body: dict = {
        "success": task.status != "failed",
        "task_id": task.task_id,
        "state": task.status,
    }
    if video:
        body.update(video_id=video["id"], video_url=video["url"], duration=float(video["duration"]))
    if task.status == "failed":
        body["error"] = {"code": "api_error", "message": task.status_msg}
    return body


def callback_body(task: SimTask) -> dict:
    return proxy_object(task) if task.proxy_flat else task_data(task)


def tts_data(task: TtsTask) -> dict:
    """A text-to-speech task's `data`: create, get and each item of the list."""
    return {
        "task_id": task.task_id,
        "task_status": task.status,
        "task_status_msg": task.status_msg,
        "task_info": {"external_task_id": task.external_task_id},
        "task_result": {"audios": [dict(audio) for audio in task.audios]},
        "final_unit_deduction": task.units,
        "created_at": task.created_ms,
        "updated_at": task.updated_ms,
    }
