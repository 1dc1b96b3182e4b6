"""Sound classes: from the synthesiser's phonemes, and from the spectrum by the shipped model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from projects.engines.local import sounds, train_sounds
from projects.engines.local.tts import Phoneme


@pytest.mark.parametrize(
    ("phoneme", "klass"),
    [
        ("ˈɑː", sounds.OPEN),
        ("a", sounds.OPEN),
        ("æ", sounds.OPEN),
        ("ˈuː", sounds.ROUND),
        ("ˈo", sounds.ROUND),
        ("w", sounds.ROUND),
        ("ˈiː", sounds.SPREAD),
        ("ɛ", sounds.SPREAD),
        ("m", sounds.CLOSED),
        ("b", sounds.CLOSED),
        ("p", sounds.CLOSED),
        ("s", sounds.NEUTRAL),
        ("ə", sounds.NEUTRAL),
        ("ts.h", sounds.NEUTRAL),
        ("", sounds.NEUTRAL),
    ],
)
def test_phoneme_classes(phoneme, klass):
    assert sounds.sound_class(phoneme) == klass


def test_frames_take_the_classes_of_their_phonemes():
    phonemes = [
        Phoneme("ˈuː", 0, 200),
        Phoneme("m", 200, 280),
        Phoneme("aɪ", 280, 480),  # a diphthong: open, then spread
        Phoneme("", 480, 600),
    ]
    classes = sounds.classes_from_phonemes(phonemes, 25, 20)
    np.testing.assert_allclose(classes.sum(axis=1), 1)
    assert classes[2].argmax() == sounds.ROUND  # 80 ms
    assert classes[6, sounds.CLOSED] == pytest.approx(1.0)  # 240 ms, inside the m
    # The m reaches into the frames beside it and outweighs the vowels there.
    assert classes[5].argmax() == sounds.CLOSED
    assert classes[8].argmax() == sounds.OPEN  # 320 ms: the diphthong's first half
    assert classes[11].argmax() == sounds.SPREAD  # 440 ms: its second half
    assert classes[13].argmax() == sounds.NEUTRAL  # the pause
    assert classes[19].argmax() == sounds.NEUTRAL  # after the speech


def test_the_shipped_model_is_the_training_code_s():
    model = sounds.sound_model()
    assert model.settings == sounds.SpectralSettings()
    data = json.loads(sounds.MODEL_PATH.read_text(encoding="utf-8"))
    assert data["classes"] == list(sounds.CLASSES)
    assert model.hidden_weights.shape == (
        len(model.settings.context_ms) * model.settings.coefficients,
        train_sounds.HIDDEN,
    )
    assert sounds.MODEL_PATH.stat().st_size < 100_000  # small parameters, not weights to fetch


@pytest.mark.slow
def test_the_model_tells_the_classes_of_held_out_speech():
    """Sentences and voices never trained on: most frames get their true class, and every
    class is recognised far better than chance (20 %)."""
    features, labels = train_sounds.labelled_frames(train_sounds.corpus(held_out=True))
    scores = train_sounds.accuracy(sounds.sound_model(), features, labels)
    assert scores["overall"] >= 0.75, scores
    assert min(scores[name] for name in sounds.CLASSES) >= 0.6, scores


def test_training_learns_separable_classes():
    """The training loop itself: on features whose class is plain, it learns them."""
    rng = np.random.default_rng(1)
    dimensions = len(sounds.SpectralSettings().context_ms) * sounds.SpectralSettings().coefficients
    centres = rng.normal(0, 3, (len(sounds.CLASSES), dimensions))
    labels = rng.integers(0, len(sounds.CLASSES), 2000)
    features = (centres[labels] + rng.normal(0, 1, (labels.size, dimensions))).astype(np.float32)
    model = train_sounds.train(features, labels)
    assert train_sounds.accuracy(model, features, labels)["overall"] > 0.95


def test_uploaded_speech_gets_shapes_from_its_spectrum(tmp_path):
    """The spectrum path on real synthesised vowels: "ooh" reads round, "ee" spread."""
    from projects.engines.local import audio, tts

    frames = {}
    for text in ("Ooh.", "Eee."):
        wav = tmp_path / "vowel.wav"
        spoken = tts.synthesize_timed(text, "ai_kaiya", "en", 1.0, wav)
        samples = audio.decode_audio(wav)
        vowel = next(p for p in spoken.phonemes if p.name)
        count = round(spoken.duration_ms * 25 / 1000)
        classes = sounds.classes_from_spectrum(samples, 25, count)
        middle = slice(round(vowel.start_ms * 0.025) + 1, round(vowel.end_ms * 0.025) - 1)
        frames[text] = classes[middle].mean(axis=0)
    assert frames["Ooh."].argmax() == sounds.ROUND, frames
    assert frames["Eee."].argmax() == sounds.SPREAD, frames
