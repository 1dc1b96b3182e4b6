"""The local engine's renderer, on small real media: a real face photograph on a background,
with a tone as the video's own sound, and a speech-like clip inserted on its timeline.

The media helpers at the top are shared with test_local_engine.py.
"""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from projects.engines.local import audio
from projects.engines.local.faces import FaceTrackResult, identify_faces
from projects.engines.local.render import RenderError, render_advanced, render_basic

SIZE = (640, 360)
FPS = 25
RATE = 48_000
VIDEO_TONE_HZ = 220.0
VIDEO_TONE_AMPLITUDE = 0.2
MARKER_ROWS = slice(4, 12)  # above the face cards

# --- media -------------------------------------------------------------------------------------


def face_card(mirrored: bool = False) -> np.ndarray:
    """The astronaut's face (a real photograph); mirrored, it is a second face in the frame."""
    from skimage import data

    card = data.astronaut()[30:230, 120:320]
    return np.ascontiguousarray(card[:, ::-1] if mirrored else card)


def still_frame(size: tuple[int, int], centres: tuple[float, ...]) -> np.ndarray:
    """A grey-blue gradient with one face card centred at each x fraction in `centres`."""
    width, height = size
    ramp = np.linspace(90, 150, width, dtype=np.float32)[None, :, None]
    frame = np.broadcast_to(ramp * np.array([0.9, 1.0, 1.1]), (height, width, 3))
    frame = frame.astype(np.uint8).copy()
    side = int(height * 0.6)
    for number, centre in enumerate(centres):
        card = Image.fromarray(face_card(mirrored=number % 2 == 1)).resize((side, side))
        left, top = int(centre * width) - side // 2, (height - side) // 2
        frame[top : top + side, left : left + side] = np.asarray(card)
    return frame


def tone(t: np.ndarray, hz: float, amplitude: float) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * hz * t)


def syllables(t: np.ndarray) -> np.ndarray:
    """Voiced syllables: harmonics of 150 Hz under an opening-and-closing envelope with pauses,
    louder and softer phrases, like speech at about three syllables a second."""
    envelope = np.clip(np.sin(2 * np.pi * 1.7 * t), 0, None) ** 1.5
    envelope *= 0.5 + 0.5 * np.sin(2 * np.pi * 0.45 * t) ** 2
    voice = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 8))
    return 0.35 * envelope * voice / 2.6


def write_face_video(
    path: Path,
    *,
    duration_ms: int = 4000,
    centres: tuple[float, ...] = (0.27, 0.73),
    with_sound: bool = True,
    size: tuple[int, int] = SIZE,
) -> Path:
    """An H.264 MP4 of still faces; its sound (AAC) is a 220 Hz tone at 0.2.

    A bright mark moves 4 px to the right along the top edge each frame (`frame_marker`), so
    a test can tell which source frame an output frame shows.
    """
    image = still_frame(size, centres)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = *size, "yuv420p"
        video.options = {"preset": "veryfast", "crf": "18"}
        sound = None
        if with_sound:
            sound = container.add_stream("aac", rate=RATE)
            sound.layout = "stereo"
        for number in range(duration_ms * FPS // 1000):
            image[MARKER_ROWS] = 30
            image[MARKER_ROWS, 4 * number + 2 : 4 * number + 6] = 250
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = number, Fraction(1, FPS)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if sound is not None:
            t = np.arange(duration_ms * RATE // 1000) / RATE
            samples = tone(t, VIDEO_TONE_HZ, VIDEO_TONE_AMPLITUDE).astype(np.float32)
            _encode_audio(container, sound, np.stack([samples, samples]))
    return path


def _encode_audio(container, stream, samples: np.ndarray) -> None:
    for start in range(0, samples.shape[1], 1024):
        chunk = np.ascontiguousarray(samples[:, start : start + 1024])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = RATE, start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def write_wav(path: Path, signal, duration_ms: int, rate: int = 22_050) -> Path:
    """A 16-bit mono WAV of `signal(t)` (t in seconds) at a rate unlike the output's 48 kHz."""
    t = np.arange(duration_ms * rate // 1000) / rate
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((signal(t) * 32767).astype("<i2").tobytes())
    return path


def frame_marker(frame: np.ndarray) -> int:
    """Which source frame `frame` shows, read from the moving mark along the top edge."""
    strip = frame[MARKER_ROWS].astype(np.float32).mean(axis=(0, 2))
    return int(np.argmax(np.convolve(strip, np.ones(4), mode="valid"))) // 4


def decode_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def top_level_boxes(path: Path) -> list[str]:
    """The MP4's top-level box types, in file order."""
    data = path.read_bytes()
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        boxes.append(data[offset + 4 : offset + 8].decode("latin-1"))
        if size == 1:
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        if size < 8:
            break
        offset += size
    return boxes


def mouth_area(box: tuple[int, int, int, int]) -> tuple[slice, slice]:
    """Rows and columns around a face box's mouth and chin, where the warp may act."""
    left, top, right, bottom = box
    height = bottom - top
    return slice(top + int(0.55 * height), bottom + int(0.45 * height)), slice(left, right)


# Re-encoding alone changes a face's pixels by about 1-2 levels on average: below this, a
# region did not move.
CODEC_NOISE = 2.5


def mean_change(output: np.ndarray, source: np.ndarray, area: tuple[slice, slice]) -> float:
    return float(np.abs(output[area].astype(np.int16) - source[area]).mean())


def frame_envelope(signal, *, insert_ms: int, start_ms: int, end_ms: int, frames: int):
    """RMS of the inserted clip over each video frame (0 outside the clip's window)."""
    envelope = np.zeros(frames)
    for number in range(frames):
        t_ms = number * 1000 / FPS
        clip_ms = t_ms - insert_ms + start_ms
        if start_ms <= clip_ms < end_ms:
            t = clip_ms / 1000 + (np.arange(RATE // FPS) - RATE // FPS / 2) / RATE
            envelope[number] = np.sqrt(np.mean(signal(t) ** 2))
    return envelope


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict:
    """Two faces (left: the astronaut, right: mirrored) for 4 s, their tracks, and a clip."""
    folder = tmp_path_factory.mktemp("render")
    video = write_face_video(folder / "faces.mp4")
    clip = write_wav(folder / "speech.wav", syllables, 3000)
    tracks = sorted(identify_faces(video), key=lambda track: track.samples[0].box[0])
    assert len(tracks) == 2, "the test video must show two detectable faces"
    return {"folder": folder, "video": video, "clip": clip, "left": tracks[0], "right": tracks[1]}


@pytest.fixture(scope="module")
def advanced(media) -> dict:
    """The left face speaks the clip's 0.2-2.7 s, inserted at 1.0 s, with a watermarked copy."""
    out = media["folder"] / "advanced.mp4"
    marked = media["folder"] / "advanced_wm.mp4"
    result = render_advanced(
        media["video"],
        media["clip"],
        media["left"],
        sound_start_ms=200,
        sound_end_ms=2700,
        sound_insert_ms=1000,
        sound_volume=1.5,
        original_audio_volume=0.5,
        out_path=out,
        watermark_out_path=marked,
    )
    return {
        "result": result,
        "out": out,
        "marked": marked,
        "frames": decode_frames(out),
        "source": decode_frames(media["video"]),
    }


# --- the file ----------------------------------------------------------------------------------


def test_output_is_h264_aac_faststart_as_long_as_the_video(media, advanced):
    with av.open(str(advanced["out"])) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"
        assert container.duration / 1e6 == pytest.approx(4.0, abs=0.05)
    boxes = top_level_boxes(advanced["out"])
    assert boxes.index("moov") < boxes.index("mdat"), boxes
    assert len(advanced["frames"]) == len(advanced["source"]) == 100
    assert advanced["result"].duration_ms == 4000
    assert (advanced["result"].width, advanced["result"].height) == SIZE


def test_sound_is_the_contract_mix(advanced):
    """0.5 x the video's tone, plus 1.5 x the clip's 0.2-2.7 s placed at 1.0 s."""
    mixed = audio.decode_audio(advanced["out"])[0]
    t = np.arange(mixed.size) / RATE
    clip_t = t - 1.0 + 0.2
    inside = (clip_t >= 0.2) & (clip_t < 2.7)
    expected = 0.5 * tone(t, VIDEO_TONE_HZ, VIDEO_TONE_AMPLITUDE)
    expected[inside] += 1.5 * syllables(clip_t[inside])
    assert mixed.size == pytest.approx(4 * RATE, abs=RATE // 100)
    # AAC is lossy: compare in the steady part (not the codec's first and last frames).
    steady = slice(RATE // 10, mixed.size - RATE // 10)
    error = np.sqrt(np.mean((mixed[steady] - expected[steady]) ** 2))
    assert error / np.sqrt(np.mean(expected[steady] ** 2)) < 0.1


def test_watermarked_copy_shows_the_mark_and_the_main_copy_does_not(advanced):
    marked = decode_frames(advanced["marked"])
    middle = (slice(150, 210), slice(220, 420))
    for number in (0, 50):
        assert mean_change(marked[number], advanced["source"][number], middle) > 8
        assert mean_change(advanced["frames"][number], advanced["source"][number], middle) < 2


# --- the mouth ---------------------------------------------------------------------------------


def test_mouth_opens_with_the_inserted_speech(media, advanced):
    frames, source = advanced["frames"], advanced["source"]
    envelope = frame_envelope(syllables, insert_ms=1000, start_ms=200, end_ms=2700, frames=100)
    change = np.array(
        [
            mean_change(out, src, mouth_area(media["left"].box_at(number * 40)))
            for number, (out, src) in enumerate(zip(frames, source, strict=True))
        ]
    )
    window = slice(25, 87)  # 1.0 s .. 3.5 s
    r = np.corrcoef(change[window], envelope[window])[0, 1]
    assert r >= 0.6, f"mouth motion vs speech envelope: r = {r:.2f}"
    assert change[window].max() > 6  # a visible opening, not codec noise


def test_nothing_moves_outside_the_clip_window(media, advanced):
    frames, source = advanced["frames"], advanced["source"]
    area = mouth_area(media["left"].box_at(0))
    before = [mean_change(frames[n], source[n], area) for n in range(0, 24)]
    after = [mean_change(frames[n], source[n], area) for n in range(90, 100)]
    assert max(before + after) < CODEC_NOISE


def test_the_other_face_stays_still(media, advanced):
    frames, source = advanced["frames"], advanced["source"]
    changes = [
        mean_change(frames[n], source[n], mouth_area(media["right"].box_at(n * 40)))
        for n in range(100)
    ]
    assert max(changes) < CODEC_NOISE


# --- basic lip-sync ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def basic(media) -> dict[int, dict]:
    """Whole-video lip-syncs of the 4 s video to a shorter (2.5 s) and a longer (6 s) audio."""
    renders = {}
    for audio_ms in (2500, 6000):
        clip = write_wav(media["folder"] / f"speech_{audio_ms}.wav", syllables, audio_ms)
        out = media["folder"] / f"basic_{audio_ms}.mp4"
        result = render_basic(media["video"], clip, [media["left"], media["right"]], out)
        renders[audio_ms] = {"result": result, "out": out, "frames": decode_frames(out)}
    return renders


@pytest.mark.parametrize("audio_ms", [2500, 6000])
def test_basic_output_follows_the_audio_length(basic, audio_ms):
    render = basic[audio_ms]
    assert render["result"].duration_ms == pytest.approx(audio_ms, abs=40)
    assert len(render["frames"]) == pytest.approx(audio_ms * FPS / 1000, abs=1)
    sound = audio.decode_audio(render["out"])
    assert sound.shape[1] / RATE == pytest.approx(audio_ms / 1000, abs=0.03)


def test_basic_replaces_the_video_sound(basic):
    sound = audio.decode_audio(basic[2500]["out"])[0]
    spectrum = np.abs(np.fft.rfft(sound))
    freqs = np.fft.rfftfreq(sound.size, 1 / RATE)
    assert spectrum[np.argmin(np.abs(freqs - VIDEO_TONE_HZ))] < 0.05 * spectrum.max()


def test_basic_moves_the_largest_face_with_the_speech(media, basic):
    frames, source = basic[2500]["frames"], decode_frames(media["video"])
    envelope = frame_envelope(syllables, insert_ms=0, start_ms=0, end_ms=2500, frames=len(frames))
    loud = int(np.argmax(envelope))
    # In the middle of a pause: silent for the last 4 frames, so the mouth had time to close.
    quiet = next(n for n in range(5, len(frames)) if envelope[n - 4 : n + 1].max() == 0)
    # Both cards are the same size; the first track with the largest box speaks.
    speaker = mouth_area(media["left"].box_at(0))
    assert mean_change(frames[loud], source[loud], speaker) > 4
    assert mean_change(frames[quiet], source[quiet], speaker) < CODEC_NOISE


def test_basic_loops_the_video_when_the_audio_is_longer(media, basic):
    shown = [frame_marker(frame) for frame in basic[6000]["frames"]]
    # 6 s of output from a 4 s video: frames 0-99, then 0-49 again.
    assert shown == list(range(100)) + list(range(50))


def test_basic_cuts_the_video_when_the_audio_is_shorter(basic):
    shown = [frame_marker(frame) for frame in basic[2500]["frames"]]
    # 2.5 s at 25 fps is 62.5 frames: the last, partly heard frame is kept.
    assert shown == list(range(63))


# --- errors ------------------------------------------------------------------------------------


def test_a_file_without_video_is_a_plain_error(media, tmp_path):
    not_video = write_wav(tmp_path / "only_sound.wav", syllables, 2000)
    track = FaceTrackResult(0, 0, 0, 2000, (), b"")
    with pytest.raises(RenderError, match="no video track"):
        render_advanced(
            not_video,
            media["clip"],
            track,
            sound_start_ms=0,
            sound_end_ms=2000,
            sound_insert_ms=0,
            out_path=tmp_path / "out.mp4",
        )


def test_a_silent_video_gets_the_clip_alone(media, tmp_path):
    silent = write_face_video(tmp_path / "silent.mp4", duration_ms=3000, with_sound=False)
    out = tmp_path / "out.mp4"
    tracks = identify_faces(silent)
    render_advanced(
        silent,
        media["clip"],
        tracks[0],
        sound_start_ms=0,
        sound_end_ms=2000,
        sound_insert_ms=500,
        original_audio_volume=2.0,
        out_path=out,
    )
    sound = audio.decode_audio(out)[0]
    assert sound.size == pytest.approx(3 * RATE, abs=RATE // 100)
    assert np.abs(sound[: RATE * 4 // 10]).max() < 0.01  # silence before the insert
    assert np.abs(sound[RATE : 2 * RATE]).max() > 0.1


# --- the mix itself, exactly -------------------------------------------------------------------


def test_mix_crops_places_scales_and_keeps_the_video_length():
    video = np.full((2, audio.ms_to_samples(3000)), 0.1, dtype=np.float32)
    clip = np.tile(np.arange(audio.ms_to_samples(2000), dtype=np.float32), (2, 1)) / 1e6
    mixed = audio.mix_contract_audio(
        video,
        clip,
        sound_start_ms=500,
        sound_end_ms=1500,
        sound_insert_ms=2500,
        sound_volume=2.0,
        original_audio_volume=0.5,
        video_duration_ms=3000,
    )
    assert mixed.shape == video.shape
    insert, start = audio.ms_to_samples(2500), audio.ms_to_samples(500)
    np.testing.assert_allclose(mixed[:, :insert], 0.05)
    # Only 500 ms of the 1000 ms clip fit before the video ends; the rest is cut.
    np.testing.assert_allclose(
        mixed[:, insert:], 0.05 + 2.0 * clip[:, start : start + mixed.shape[1] - insert], rtol=1e-6
    )


def test_mix_pads_a_short_video_sound_with_silence():
    mixed = audio.mix_contract_audio(
        np.zeros((2, 0), dtype=np.float32),
        np.full((2, audio.ms_to_samples(2000)), 0.25, dtype=np.float32),
        sound_start_ms=0,
        sound_end_ms=2000,
        sound_insert_ms=1000,
        sound_volume=1.0,
        original_audio_volume=1.0,
        video_duration_ms=4000,
    )
    assert mixed.shape[1] == audio.ms_to_samples(4000)
    assert mixed[:, : audio.ms_to_samples(1000)].max() == 0
    assert mixed[:, audio.ms_to_samples(1000) : audio.ms_to_samples(3000)].min() == 0.25
    assert mixed[:, audio.ms_to_samples(3000) :].max() == 0


def test_soft_limit_leaves_quiet_samples_and_bends_loud_ones_below_full_scale():
    samples = np.array([[-0.5, 0.0, 0.89, 0.95, 1.2, 2.0, -4.0]], dtype=np.float32)
    limited = audio.soft_limit(samples)
    np.testing.assert_array_equal(limited[0, :3], samples[0, :3])
    assert np.all(np.abs(limited) <= 1.0)
    assert limited[0, 3] < limited[0, 4] < limited[0, 5]  # still monotonic: no hard clip
    assert limited[0, 6] < -0.99
