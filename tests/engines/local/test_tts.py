"""Offline text-to-speech (espeak-ng) and the Kling voice catalogue."""

from __future__ import annotations

import threading
import wave
from pathlib import Path

import numpy as np
import pytest

from projects.engines import voices
from projects.engines.local import audio, tts

ENGLISH = "The quick brown fox jumps over the lazy dog near the river bank."
CHINESE = "今天天气很好，我们一起去公园散步吧。"
# Ids of the contract's §7 list, typed out again so a dropped or misspelt entry shows.
CONTRACT_IDS = [
    "genshin_vindi2",
    "zhinen_xuesheng",
    "AOT",
    "ai_shatang",
    "genshin_klee2",
    "genshin_kirara",
    "ai_kaiya",
    "oversea_male1",
    "ai_chenjiahao_712",
    "girlfriend_4_speech02",
    "chat1_female_new-3",
    "chat_0407_5-1",
    "cartoon-boy-07",
    "uk_boy1",
    "cartoon-girl-01",
    "PeppaPig_platform",
    "ai_huangzhong_712",
    "ai_huangyaoshi_712",
    "ai_laoguowang_712",
    "chengshu_jiejie",
    "you_pingjing",
    "calm_story1",
    "uk_man2",
    "laopopo_speech02",
    "heainainai_speech02",
    "reader_en_m-v1",
    "commercial_lady_en_f-v1",
    "tiyuxi_xuedi",
    "tiexin_nanyou",
    "girlfriend_1_speech02",
    "girlfriend_2_speech02",
    "zhuxi_speech02",
    "uk_oldman3",
    "dongbeilaotie_speech02",
    "chongqingxiaohuo_speech02",
    "chuanmeizi_speech02",
    "chaoshandashu_speech02",
    "ai_taiwan_man2_speech02",
    "xianzhanggui_speech02",
    "tianjinjiejie_speech02",
    "diyinnansang_DB_CN_M_04-v2",
    "yizhipiannan-v1",
    "guanxiaofang-v2",
    "tianmeixuemei-v1",
    "daopianyansang-v1",
    "mengwa-v1",
]


def read_wav(path: Path) -> tuple[np.ndarray, int, int, int]:
    with wave.open(str(path)) as wav:
        frames = wav.readframes(wav.getnframes())
        return (
            np.frombuffer(frames, dtype="<i2"),
            wav.getframerate(),
            wav.getnchannels(),
            wav.getsampwidth(),
        )


def voiced_fraction(samples: np.ndarray, rate: int) -> float:
    """The share of 20 ms windows with clearly audible sound."""
    window = rate // 50
    chunks = samples[: samples.size // window * window].reshape(-1, window).astype(np.float64)
    rms = np.sqrt((chunks**2).mean(axis=1))
    return float((rms > 500).mean())


# --- speech ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text", "voice_id"),
    [("en", ENGLISH, "oversea_male1"), ("zh", CHINESE, "chengshu_jiejie")],
)
def test_speech_has_a_plausible_length_and_speeds_up(tmp_path, language, text, voice_id):
    lengths = {}
    for speed in (0.8, 2.0):
        out = tmp_path / f"{speed}.wav"
        lengths[speed] = tts.synthesize(text, voice_id, language, speed, out)
        samples, rate, channels, width = read_wav(out)
        assert (channels, width) == (1, 2)  # 16-bit mono
        assert lengths[speed] == pytest.approx(samples.size * 1000 / rate, abs=1)
        assert voiced_fraction(samples, rate) > 0.4  # speech, not silence or clicks
    # 13 English words / 17 Chinese syllables: a few seconds at 0.8, at least a second at 2.0.
    assert 2500 <= lengths[0.8] <= 9000
    assert 1000 <= lengths[2.0] <= 5000
    assert lengths[2.0] < 0.6 * lengths[0.8]


def test_every_contract_voice_speaks_both_languages(tmp_path):
    for voice_id in CONTRACT_IDS:
        for language, text in (("en", "Hello there."), ("zh", "你好。")):
            assert tts.synthesize(text, voice_id, language, 1.0, tmp_path / "x.wav") > 300


def test_children_sound_higher_than_elders():
    child = tts.local_voice(voices.get_voice("cartoon-boy-07"), "zh")
    grandpa = tts.local_voice(voices.get_voice("zhuxi_speech02"), "zh")
    girl = tts.local_voice(voices.get_voice("cartoon-girl-01"), "en")
    grandma = tts.local_voice(voices.get_voice("heainainai_speech02"), "en")
    assert child.pitch > grandpa.pitch
    assert girl.pitch > grandma.pitch
    assert child.name.startswith("cmn+m") and grandpa.name.startswith("cmn+m")
    assert girl.name.startswith("en-us+f") and grandma.name.startswith("en-us+f")
    assert tts.local_voice(voices.get_voice("uk_man2"), "en").name.startswith("en+m")  # British


def test_voice_sample_for_the_picker(tmp_path):
    length = tts.voice_sample("genshin_kirara", "zh", tmp_path / "sample.wav")
    assert 800 <= length <= 5000


def test_threads_get_the_same_speech_as_one_thread(tmp_path):
    """espeak-ng keeps global state; with the lock, speech made in parallel threads is the
    speech each request asked for (espeak adds a little random flutter, so lengths are compared
    within 1 %: two utterances mixed together would be far off)."""
    expected = {}
    for voice_id in ("ai_kaiya", "you_pingjing"):
        tts.synthesize(ENGLISH, voice_id, "en", 1.0, tmp_path / f"{voice_id}.wav")
        expected[voice_id] = read_wav(tmp_path / f"{voice_id}.wav")[0]
    results: dict[str, np.ndarray] = {}

    def speak(voice_id: str, number: int) -> None:
        out = tmp_path / f"{voice_id}_{number}.wav"
        tts.synthesize(ENGLISH, voice_id, "en", 1.0, out)
        results[out.name] = read_wav(out)[0]

    threads = [
        threading.Thread(target=speak, args=(voice_id, number))
        for number in range(3)
        for voice_id in expected
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6
    for name, samples in results.items():
        alone = expected[name.rsplit("_", 1)[0]]
        assert samples.size == pytest.approx(alone.size, rel=0.01)


# --- clear errors ------------------------------------------------------------------------------


def test_unknown_voice_is_a_clear_error(tmp_path):
    with pytest.raises(voices.UnknownVoiceError, match=r"Unknown voice 'nobody_v9'"):
        tts.synthesize("Hello", "nobody_v9", "en", 1.0, tmp_path / "x.wav")
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize(
    ("text", "speed", "language", "message"),
    [
        ("", 1.0, "en", "empty"),
        ("   ", 1.0, "en", "empty"),
        ("a" * 121, 1.0, "en", "121 characters long; at most 120"),
        ("Hello", 0.7, "en", "between 0.8 and 2.0"),
        ("Hello", 2.5, "en", "between 0.8 and 2.0"),
        ("Hello", 1.0, "fr", "'zh' or 'en'"),
    ],
)
def test_bad_requests_are_clear_errors(tmp_path, text, speed, language, message):
    with pytest.raises(ValueError, match=message):
        tts.synthesize(text, "ai_kaiya", language, speed, tmp_path / "x.wav")


def test_120_characters_are_allowed(tmp_path):
    assert tts.synthesize("ab " * 40, "ai_kaiya", "en", 2.0, tmp_path / "x.wav") > 0


# --- the catalogue -----------------------------------------------------------------------------


def test_catalogue_is_the_contract_list():
    assert [voice.voice_id for voice in voices.VOICES] == CONTRACT_IDS


@pytest.mark.parametrize(
    ("voice_id", "gender", "age"),
    [
        ("genshin_vindi2", "male", "young"),  # 阳光少年
        ("ai_shatang", "female", "young"),  # 青春少女
        ("laopopo_speech02", "female", "elder"),  # 唠叨奶奶
        ("cartoon-boy-07", "male", "child"),  # 活泼男童
        ("cartoon-girl-01", "female", "child"),  # 俏皮女童
        ("zhuxi_speech02", "male", "elder"),  # 慈祥爷爷
        ("you_pingjing", "female", "adult"),  # 温柔妈妈
        ("uk_boy1", "male", "child"),
        ("commercial_lady_en_f-v1", "female", "adult"),
    ],
)
def test_gender_and_age_follow_the_names(voice_id, gender, age):
    voice = voices.get_voice(voice_id)
    assert (voice.gender, voice.age_group) == (gender, age)


def test_names_and_languages():
    sunny = voices.get_voice("genshin_vindi2")
    assert (sunny.english_name, sunny.chinese_name, sunny.label) == (
        "Sunny",
        "阳光少年",
        "Sunny · 阳光少年",
    )
    assert sunny.languages == ("zh", "en")
    assert voices.get_voice("uk_man2").languages == ("en", "zh")
    assert voices.get_voice("mengwa-v1").label == "乖巧正太"
    english_first = voices.voices_for("en")
    assert english_first[0].native_language == "en"
    assert len(english_first) == len(voices.VOICES)


def test_get_voice_unknown():
    with pytest.raises(voices.UnknownVoiceError, match="choose one of the 46 voices"):
        voices.get_voice("")


# --- The synthesiser's phoneme events: which sound is heard when, for the mouth's shapes ----------


def test_phonemes_come_in_order_and_cover_the_speech(tmp_path):
    spoken = tts.synthesize_timed(
        "Ooh... Aah... Eee.", "oversea_male1", "en", 1.0, tmp_path / "a.wav"
    )
    names = [phoneme.name for phoneme in spoken.phonemes if phoneme.name]
    assert names == ["ˈuː", "ˈɑː", "ˈiː"]
    starts = [phoneme.start_ms for phoneme in spoken.phonemes]
    assert starts == sorted(starts) and starts[0] == 0
    assert all(p.end_ms > p.start_ms for p in spoken.phonemes)
    assert spoken.phonemes[-1].end_ms == spoken.duration_ms
    # The same speech as `synthesize` makes (espeak adds a little random flutter: within 3 %).
    again = tts.synthesize("Ooh... Aah... Eee.", "oversea_male1", "en", 1.0, tmp_path / "b.wav")
    assert spoken.duration_ms == pytest.approx(again, rel=0.03)


def test_phoneme_times_match_the_sound(tmp_path):
    """The vowels are loud where the events put them, the pauses between them quiet."""
    wav = tmp_path / "a.wav"
    spoken = tts.synthesize_timed("Ooh... Aah... Eee.", "ai_kaiya", "en", 1.0, wav)
    mono = audio.decode_audio(wav)[0]

    def rms(start_ms: int, end_ms: int) -> float:
        chunk = mono[audio.ms_to_samples(start_ms) : audio.ms_to_samples(end_ms)]
        return float(np.sqrt(np.mean(chunk**2)))

    vowels = [rms(p.start_ms + 30, p.end_ms - 30) for p in spoken.phonemes if p.name]
    pauses = [
        rms(p.start_ms + 60, p.end_ms - 10)
        for p in spoken.phonemes
        if not p.name and p.end_ms - p.start_ms >= 100
    ]
    assert len(vowels) == 3 and len(pauses) == 2
    assert min(vowels) > 10 * max(pauses), (vowels, pauses)


def test_mandarin_speech_reports_its_phonemes_too(tmp_path):
    spoken = tts.synthesize_timed("我们吃饭吧", "chengshu_jiejie", "zh", 1.0, tmp_path / "zh.wav")
    names = [phoneme.name for phoneme in spoken.phonemes if phoneme.name]
    assert "m" in names and "p" in names  # 们 and 吧 close the lips
    assert len(names) >= 8
