"""The dlib models of the local engine, loaded once per process from `face_recognition_models`.

The model files ship inside the installed `face_recognition_models` package, so nothing is
downloaded at run time. Loading the models takes a noticeable fraction of a second and tens of
MB, hence the lazy, cached accessors: a worker pays for it on first use only.

Thread safety: a dlib detector keeps scratch buffers between calls, so two threads sharing one
corrupt memory; each thread gets its own (they are small). The landmark model is read-only
while predicting and is shared. The ResNet keeps its activations in the network object, so
embeddings are computed under a lock.
"""

from __future__ import annotations

import functools
import threading

import dlib
import face_recognition_models
import numpy as np

Box = tuple[int, int, int, int]  # left, top, right, bottom

# In dlib's 68-point layout (iBUG 300-W), points 48-67 outline the outer and inner lips.
MOUTH = slice(48, 68)


_per_thread = threading.local()
_loading = threading.Lock()
_encoding = threading.Lock()


def detector() -> dlib.fhog_object_detector:
    """This thread's HOG + linear SVM frontal face detector (faces of about 80 px and larger)."""
    if not hasattr(_per_thread, "detector"):
        _per_thread.detector = dlib.get_frontal_face_detector()
    return _per_thread.detector


def shape_predictor() -> dlib.shape_predictor:
    """The 68-point landmark model."""
    with _loading:
        return _load_shape_predictor()


def face_encoder() -> dlib.face_recognition_model_v1:
    """The ResNet that maps an aligned face to a 128-d embedding (same person: distance < 0.6).

    Not safe to call from two threads at once: use `embedding`, which serialises the calls.
    """
    with _loading:
        return _load_face_encoder()


@functools.cache
def _load_shape_predictor() -> dlib.shape_predictor:
    return dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())


@functools.cache
def _load_face_encoder() -> dlib.face_recognition_model_v1:
    return dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())


def to_rectangle(box: Box) -> dlib.rectangle:
    left, top, right, bottom = (int(value) for value in box)
    return dlib.rectangle(left, top, right, bottom)


def from_rectangle(rectangle: dlib.rectangle) -> Box:
    return (rectangle.left(), rectangle.top(), rectangle.right(), rectangle.bottom())


def landmarks(frame_rgb: np.ndarray, box: Box) -> dlib.full_object_detection:
    """The 68 landmarks of the face in `box` (frame pixels)."""
    return shape_predictor()(frame_rgb, to_rectangle(box))


def landmark_array(shape: dlib.full_object_detection) -> np.ndarray:
    """Landmarks as a (68, 2) float array of x, y."""
    return np.array([(point.x, point.y) for point in shape.parts()], dtype=np.float64)


def mouth_points(frame_rgb: np.ndarray, box: Box) -> np.ndarray:
    """The 20 mouth landmarks (48-67) of the face in `box`, as a (20, 2) array of x, y pixels."""
    return landmark_array(landmarks(frame_rgb, box))[MOUTH]


def embedding(frame_rgb: np.ndarray, shape: dlib.full_object_detection) -> np.ndarray:
    """The 128-d embedding of the face whose landmarks are `shape`."""
    encoder = face_encoder()
    with _encoding:
        descriptor = encoder.compute_face_descriptor(frame_rgb, shape)
    return np.asarray(descriptor, dtype=np.float64)
