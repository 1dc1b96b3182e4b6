"""The local engine's renderer, on small real media: a real face photograph on a background,
with a tone as the video's own sound, and a speech-like clip inserted on its timeline.

The media helpers at the top are shared with test_local_engine.py.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from projects.engines.local import audio
from projects.engines.local.faces import FaceTrackResult, identify_faces
from projects.engines.local.render import RenderError, render_advanced, render_basic
from tests.support import mouthmeasure
from tests.support.facevideos import ASTRONAUT, LFW
from tests.support.mouthpreview import FPS as PREVIEW_FPS
from tests.support.mouthpreview import Rendered, say, talking_head, write_strip
from tests.support.numbered_media import top_level_boxes
from tests.support.talking_heads import (
    CODEC_NOISE,
    FPS,
    RATE,
    SIZE,
    VIDEO_TONE_AMPLITUDE,
    VIDEO_TONE_HZ,
    decode_frames,
    frame_envelope,
    frame_marker,
    mean_change,
    mouth_area,
    syllables,
    tone,
    write_face_video,
    write_wav,
)


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


# --- The mouth in the encoded result, for typed text and uploaded speech ----------------------

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
SENTENCE = "My mother made plum pie, Bob. Maybe more soup, please."
VOWELS = "Ooh... Aah... Eee."
# Few closed-lip sounds: m/b/p shut the mouth however loud they are (tested on SENTENCE).
OPEN_SENTENCE = "Hello there, how are you today? I hope the weather is fine."


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mouth")


@pytest.fixture(scope="module", params=[ASTRONAUT, LFW])
def face_video(request, folder) -> Path:
    return talking_head(folder / f"{request.param}.mp4", request.param)


@pytest.fixture(scope="module")
def vowels(folder) -> Rendered:
    return say(talking_head(folder / f"{ASTRONAUT}.mp4"), VOWELS, folder)


def frames_inside(rendered: Rendered, start_ms: float, end_ms: float) -> list[int]:
    return [n for n in range(len(rendered.results)) if start_ms <= n * 1000 / PREVIEW_FPS <= end_ms]


def openings(rendered: Rendered) -> list[mouthmeasure.Opening]:
    return [
        mouthmeasure.opening(source, result, points)
        for source, result, points in zip(
            rendered.sources, rendered.results, rendered.landmarks, strict=True
        )
    ]


def test_vowels_shape_the_mouth_round_open_spread(vowels):
    """ "Ooh" is narrow and round, "aah" tall and wide, "eee" wide and low: the opening's
    width-to-height ratio grows in that order, by at least 20 % each step."""
    ratios = {}
    all_openings = openings(vowels)
    for phoneme in vowels.spoken.phonemes:
        if phoneme.name:
            length = phoneme.end_ms - phoneme.start_ms
            middle = frames_inside(
                vowels, phoneme.start_ms + 0.3 * length, phoneme.start_ms + 0.7 * length
            )
            ratios[phoneme.name.strip("ˈː")] = float(
                np.median([all_openings[n].ratio for n in middle])
            )
    assert set(ratios) == {"u", "ɑ", "i"}, ratios
    assert ratios["ɑ"] >= 1.2 * ratios["u"], ratios
    assert ratios["i"] >= 1.2 * ratios["ɑ"], ratios


def test_the_opening_follows_the_speech_envelope(face_video, folder):
    """Uploaded speech (no phonemes): the opening's height tracks the loudness per frame."""
    rendered = say(face_video, OPEN_SENTENCE, folder, with_phonemes=False)
    heights = [opening.height for opening in openings(rendered)]
    speech = audio.decode_audio(rendered.speech)
    envelope = audio.frame_rms(speech, PREVIEW_FPS, len(heights))
    r = mouthmeasure.pearson(heights, envelope)
    assert r >= 0.8, f"opening vs speech envelope: r = {r:.2f}"


def test_the_mouth_is_closed_in_silence_and_on_m_b_p(face_video, folder):
    rendered = say(face_video, SENTENCE, folder)
    width = mouthmeasure.mouth_width(rendered.landmarks[0])
    closed = [
        round((phoneme.start_ms + phoneme.end_ms) / 2 * FPS / 1000)
        for phoneme in rendered.spoken.phonemes
        if phoneme.name in ("m", "b", "p")
    ]
    # Late in the pauses at the commas and full stops, once the jaw has had time to close.
    silent = [
        round((phoneme.start_ms + 0.8 * (phoneme.end_ms - phoneme.start_ms)) * FPS / 1000)
        for phoneme in rendered.spoken.phonemes
        if phoneme.name == "" and phoneme.end_ms - phoneme.start_ms >= 150
    ]
    assert len(closed) >= 8 and silent
    for number in closed + silent:
        opening = mouthmeasure.opening(
            rendered.sources[number], rendered.results[number], rendered.landmarks[number]
        )
        assert opening.height <= 0.1 * width, (number, opening)
        seen = mouthmeasure.landmarks(rendered.results[number], rendered.boxes[number])
        gap_change = mouthmeasure.lip_gap(seen) - mouthmeasure.lip_gap(rendered.landmarks[number])
        assert abs(gap_change) <= 0.1, (number, gap_change)
    spoken = [o.height for o in openings(rendered)[: len(rendered.results) // 2]]
    assert max(spoken) >= 0.3 * width  # it did open in between


def test_a_strip_of_before_and_after_mouths_is_saved(folder):
    """Three seconds of a sentence, every third frame: the source mouths above, the
    lip-synced ones below, for a person to look at."""
    rendered = say(talking_head(folder / f"{ASTRONAUT}.mp4"), SENTENCE, folder)
    path = write_strip(rendered, ARTIFACTS / "local-engine-mouth-strip.png", step=3, columns=25)
    with Image.open(path) as picture:
        strip = np.asarray(picture.convert("RGB")).astype(np.int16)
    half = (strip.shape[0] - 2) // 2
    before, after = strip[:half], strip[-half:]
    assert strip.shape[1] > 12 * strip.shape[0]  # 25 crops side by side
    changed = np.abs(after - before).mean(axis=(0, 2))
    assert (changed > 8).mean() > 0.2  # the mouth moved in many of them
