"""The local engine: offline face identification, speech, rendering.

`LocalEngine` is loaded on first access, so importing a light module of this package
(audio, tts) does not load dlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from projects.engines.local.engine import LocalEngine

__all__ = ["LocalEngine"]


def __getattr__(name: str) -> object:
    if name == "LocalEngine":
        from projects.engines.local.engine import LocalEngine

        return LocalEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
