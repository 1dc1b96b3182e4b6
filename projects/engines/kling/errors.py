"""What each Kling (or proxy) error means to the person using the app, and how it is handled.

Every failure becomes one `EngineError`: `permanent` when repeating the request cannot help,
`ambiguous` when a create may have reached Kling although no clear answer came back. The
table of codes and their handling is described in docs/kling.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from projects.engines.base import Cure, EngineError, SpeechRequest
from projects.engines.voices import UnknownVoiceError, get_voice

RENEW_TOKEN_CODES = frozenset({1003, 1004})
TRANSIENT_CODES = frozenset({1302, 1303, 5000, 5001, 5002})
AMBIGUOUS_CODES = frozenset({5000, 5001, 5002})  # the server may have done the work
SHOW_SERVER_MESSAGE = frozenset({1200, 1201, 1300, 1301})
DUPLICATE_EXTERNAL_ID = "external_task_id"  # words of Kling's 1201 for a reused id
LOST_SESSION = "session_id"  # words of Kling's 1201 for an unknown or expired face session
# Refusals of the input itself: the same request fails again, a changed one may not.
CHANGE_INPUT_CODES = frozenset({1200, 1201, 1300, 1301})

CODE_ADVICE: dict[int, str] = {
    1000: "Kling rejected our credentials. Check KLING_ACCESS_KEY and KLING_SECRET_KEY.",
    1001: "No Kling credentials were sent. Set KLING_ACCESS_KEY and KLING_SECRET_KEY.",
    1002: "Kling could not read our credentials. Check KLING_ACCESS_KEY and KLING_SECRET_KEY.",
    1003: "Kling says our token is not valid yet: this server's clock is probably ahead. "
    "Synchronise the clock (NTP), then try again.",
    1004: "Kling says our token has expired: this server's clock is probably behind. "
    "Synchronise the clock (NTP), then try again.",
    1100: "Kling reports a problem with the account. Check it in the Kling console.",
    1101: "The Kling account is in arrears. Recharge it, then try again.",
    1102: "Your Kling resource pack is used up or expired. Buy more credits, then try again.",
    1103: "This Kling account may not use the lip-sync API. Ask Kling to enable it.",
    1200: "Kling refused the request's parameters",
    1201: "Kling refused a value in the request",
    1202: "Kling does not accept this request method; the app needs fixing (report it).",
    1203: "Kling does not know this task or resource; it may have been deleted.",
    1300: "Kling's platform policy refused this request",
    1301: "Kling's content-safety check refused the input. Change the video, audio or text",
    1302: "Kling is receiving too many requests from us. The task will be retried shortly.",
    1303: "All of the Kling account's task slots are busy. The task will wait for a free one.",
    1304: "Kling refused this server's IP address. Add it to the allow-list in the Kling console.",
    5000: "Kling had an internal error. The task will be retried shortly.",
    5001: "Kling is temporarily unavailable. The task will be retried shortly.",
    5002: "Kling timed out internally. The task will be retried shortly.",
}

# The proxy's string codes: (advice, transient).
PROXY_CODE_ADVICE: dict[str, tuple[str, bool]] = {
    "bad_request": ("The lip-sync proxy refused the request", False),
    "authorization_missing": ("No proxy token was sent. Set LIPSYNC_PROXY_TOKEN.", False),
    "invalid_token": ("The proxy rejected our token. Check LIPSYNC_PROXY_TOKEN.", False),
    "token_expired": ("The proxy token has expired. Create a new one and set it.", False),
    "used_up": ("The proxy account's credits are used up. Buy more, then try again.", False),
    "forbidden": (
        "The proxy's moderation refused the input. Change the video, audio or text",
        False,
    ),
    "too_many_requests": ("The proxy is receiving too many requests. Retrying shortly.", True),
    "api_error": ("The proxy had an internal error. Retrying shortly.", True),
}


def kling_error(
    code: int, message: str, http_status: int, retry_after: float | None, create: bool
) -> EngineError:
    advice = CODE_ADVICE.get(code, f"Kling answered with error {code}")
    if code in SHOW_SERVER_MESSAGE or code not in CODE_ADVICE:
        advice = f"{advice}: {message}" if message else f"{advice}."
    lost_session = code == 1201 and LOST_SESSION in message
    cure = Cure.NONE
    if lost_session:
        cure = Cure.IDENTIFY_AGAIN
    elif code in CHANGE_INPUT_CODES and DUPLICATE_EXTERNAL_ID not in message:
        cure = Cure.CHANGE_CLIP
    return EngineError(
        advice,
        code=code,
        http_status=http_status,
        permanent=code not in TRANSIENT_CODES,
        retry_after=retry_after,
        ambiguous=create and code in AMBIGUOUS_CODES,
        cure=cure,
        lost_session=lost_session,
    )


def proxy_error(code: str, detail: str, http_status: int, retry_after: float | None) -> EngineError:
    advice, transient = PROXY_CODE_ADVICE.get(
        code, (f"The proxy answered with error {code}", False)
    )
    if detail and not transient:
        advice = f"{advice.rstrip('.')}: {detail}"
    elif not advice.endswith("."):
        advice += "."
    return EngineError(
        advice,
        code=code,
        http_status=http_status,
        permanent=not transient,
        retry_after=retry_after,
        ambiguous=False,
        cure=Cure.CHANGE_CLIP if code in ("bad_request", "forbidden") else Cure.NONE,
    )


def http_error(status: int, retry_after: float | None, create: bool) -> EngineError:
    """An answer without a code we can read: the HTTP status decides."""
    transient = status == 429 or status >= 500
    if status == 429:
        message = "Kling is receiving too many requests. The task will be retried shortly."
    elif status >= 500:
        message = f"Kling is unavailable (HTTP {status}). The task will be retried shortly."
    else:
        message = f"Kling answered HTTP {status} without an explanation; report this."
    return EngineError(
        message,
        http_status=status,
        permanent=not transient,
        retry_after=retry_after,
        ambiguous=create and status >= 500,
    )


def transport_error(failure: Exception, create: bool) -> EngineError:
    """A request that got no answer; ambiguous for a create when it may have been received."""
    not_sent = isinstance(failure, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    if not_sent:
        message = "Kling cannot be reached (connection failed). The task will be retried."
    else:
        message = "Kling did not answer in time. The task will be checked and retried."
    return EngineError(
        message, permanent=False, ambiguous=create and not not_sent, unreachable=not_sent
    )


def is_duplicate(error: EngineError) -> bool:
    return error.code == 1201 and DUPLICATE_EXTERNAL_ID in error.message


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


VOICE_NOT_FOUND = "voice id not found"  # Kling's words for a voice asked in another language


def speech_error(error: EngineError, request: SpeechRequest) -> EngineError:
    """A refused text-to-speech, in words a person can act on."""
    if VOICE_NOT_FOUND not in error.message.lower():
        return error
    try:
        voice = get_voice(request.voice_id)
        name = voice.short_name
        own = " or ".join(LANGUAGE_NAMES[language] for language in voice.own_languages)
        advice = f"Choose {own} for {name}, or choose a voice that speaks "
    except UnknownVoiceError:
        name, advice = request.voice_id, "Choose a voice from the list that speaks "
    language = LANGUAGE_NAMES.get(request.voice_language, request.voice_language)
    return EngineError(
        f"Kling's voice {name} does not speak {language}. {advice}{language}.",
        code=error.code,
        http_status=error.http_status,
        permanent=True,
    )


LANGUAGE_NAMES = {"en": "English", "zh": "Chinese"}
