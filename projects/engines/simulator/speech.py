"""Text to speech in the simulator: Kling's voices spoken by the local engine (eSpeak NG).

A task is answered `submitted` and finished on a thread, so callers poll it as they would
Kling's (copies of the reference disagree on whether the create answers with the audio).
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path

from projects.engines import limits
from projects.engines.simulator.state import Store, TtsAudio, TtsTask
from projects.engines.simulator.validation import SpeechRequest, duration_text

log = logging.getLogger(__name__)

UNIT_SECONDS = 10  # one unit per started 10 s of speech: enough to show a string amount


@dataclass
class SpeechRunner:
    store: Store
    files_dir: Path
    file_url: object  # Callable[[Path], str]: where callers download a made file

    def start(self, task: TtsTask, request: SpeechRequest) -> None:
        thread = threading.Thread(target=self.run, args=(task, request), daemon=True)
        thread.name = f"sim-tts-{task.task_id}"
        thread.start()

    def run(self, task: TtsTask, request: SpeechRequest) -> None:
        from projects.engines.local.tts import synthesize

        audio_id = self.store.new_id()
        path = self.files_dir / f"tts-{audio_id}.wav"
        try:
            duration_ms = synthesize(
                request.text,
                request.voice_id,
                request.voice_language,
                request.voice_speed,
                path,
                max_chars=limits.TTS_MAX_TEXT_CHARS,
            )
        except Exception as error:  # a failed synthesis is a failed task, whatever the cause
            log.exception("Text-to-speech task %s failed", task.task_id)
            self.store.move(task, "failed", f"Speech generation failed: {error}")
            return
        self.store.add_audio(
            TtsAudio(audio_id, path, duration_ms, created_s=self.store.clock.now_s())
        )
        task.audios = [
            {
                "id": audio_id,
                "url": self.file_url(path),
                "duration": duration_text(duration_ms),
            }
        ]
        task.units = str(max(1, math.ceil(duration_ms / 1000 / UNIT_SECONDS)))
        self.store.move(task, "succeed", "")
