"""Fault injection: what the simulator does wrong, switched on per run or per test.

A plan is a comma-separated list of items `<action>[x<count>][@<scope>]`:

- `1302`, `5000`, any code of the error table: answer that error instead of doing the work;
- `5000+`: do the work (a create really creates), then answer that error anyway;
- `http429`, `http502`, …: a bare HTTP status with a plain-text body and no Kling code;
- `slow:<seconds>`: answer late, but answer;
- `hang`: do the work, then never answer (the client's read timeout fires);
- `drop`: do the work, then close the connection without a word;
- `policy-fail`: the next created task fails with a content-policy message;
- `drop-callback` / `dup-callback`: lose a callback, or send it twice.

`count` defaults to 1 (`inf` for always); `scope` is one of identify, create, get, list, tts
(text to speech), files (the result and face files the engine serves), any (default: every API
call, never a file). Files take `slow`, `http…` and `drop` only.
Example: `1303x3@create,hang@create,dup-callbackxinf,slow:0.4xinf@files`.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from projects.engines.simulator.errors import ERROR_TABLE

SCOPES = ("identify", "create", "get", "list", "tts", "files", "any")
FILE_ACTIONS = ("drop",)
REQUEST_ACTIONS = ("hang", "drop")
TASK_ACTIONS = ("policy-fail",)
CALLBACK_ACTIONS = ("drop-callback", "dup-callback")
_ITEM = re.compile(r"^(?P<action>.+?)(?:x(?P<count>\d+|inf))?(?:@(?P<scope>[a-z]+))?$")
UNLIMITED = -1


@dataclass
class Fault:
    action: str
    scope: str = "any"
    remaining: int = 1

    @property
    def code(self) -> int | None:
        """The Kling code of an error fault (`1302`, `5000+`), else None."""
        digits = self.action.rstrip("+")
        return int(digits) if digits.isdigit() else None

    @property
    def after_work(self) -> bool:
        return self.action.endswith("+") or self.action in REQUEST_ACTIONS

    @property
    def http_status(self) -> int | None:
        return int(self.action[4:]) if self.action.startswith("http") else None

    @property
    def delay_s(self) -> float:
        return float(self.action.split(":", 1)[1]) if self.action.startswith("slow:") else 0.0


def parse_fault(item: str) -> Fault:
    match = _ITEM.match(item.strip())
    if not match:
        raise ValueError(f"Cannot read fault {item!r}.")
    action, scope = match["action"], match["scope"] or "any"
    count = UNLIMITED if match["count"] == "inf" else int(match["count"] or 1)
    fault = Fault(action=action, scope=scope, remaining=count)
    _validate(fault, item)
    return fault


def _validate(fault: Fault, item: str) -> None:
    if fault.scope not in SCOPES:
        raise ValueError(f"Fault {item!r}: scope must be one of {', '.join(SCOPES)}.")
    known = REQUEST_ACTIONS + TASK_ACTIONS + CALLBACK_ACTIONS
    if fault.code is not None:
        if fault.code not in ERROR_TABLE:
            raise ValueError(f"Fault {item!r}: {fault.code} is not in the error table.")
    elif fault.action.startswith("http"):
        if not fault.action[4:].isdigit():
            raise ValueError(f"Fault {item!r}: write the status as http<number>, e.g. http502.")
    elif fault.action.startswith("slow:"):
        if not re.fullmatch(r"\d+(\.\d+)?", fault.action[5:]):
            raise ValueError(f"Fault {item!r}: write the delay as slow:<seconds>, e.g. slow:0.5.")
    elif fault.action not in known:
        raise ValueError(f"Fault {item!r}: unknown action {fault.action!r}.")
    if fault.scope == "files" and not _fits_a_file(fault):
        raise ValueError(f"Fault {item!r}: a file can only be slow, dropped or an http… status.")


def _fits_a_file(fault: Fault) -> bool:
    slow = fault.action.startswith("slow:")
    return slow or fault.http_status is not None or fault.action in FILE_ACTIONS


def parse_plan(spec: str | list[str] | None) -> list[Fault]:
    if not spec:
        return []
    items = spec.split(",") if isinstance(spec, str) else spec
    return [parse_fault(item) for item in items if item.strip()]


class FaultPlan:
    """The faults still to happen; thread-safe, each use spends one count."""

    def __init__(self, spec: str | list[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._faults = parse_plan(spec)

    def replace(self, spec: str | list[str] | None) -> None:
        faults = parse_plan(spec)
        with self._lock:
            self._faults = faults

    def add(self, spec: str | list[str]) -> None:
        faults = parse_plan(spec)
        with self._lock:
            self._faults.extend(faults)

    def describe(self) -> list[dict]:
        with self._lock:
            return [vars(fault).copy() for fault in self._faults if fault.remaining != 0]

    def take_request_fault(self, scope: str) -> Fault | None:
        """The next fault for a request of this scope (error, slow, hang, drop)."""
        return self._take(lambda fault: _is_request_fault(fault) and fault.scope in (scope, "any"))

    def take_file_fault(self) -> Fault | None:
        """The next fault for a file download: only faults scoped to `files` apply."""
        return self._take(lambda fault: fault.scope == "files")

    def take(self, action: str) -> bool:
        """Spend one `action` fault (policy-fail, drop-callback, dup-callback) if one is left."""
        return self._take(lambda fault: fault.action == action) is not None

    def _take(self, wanted) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining != 0 and wanted(fault):
                    if fault.remaining > 0:
                        fault.remaining -= 1
                    return fault
        return None


def _is_request_fault(fault: Fault) -> bool:
    return fault.action not in TASK_ACTIONS + CALLBACK_ACTIONS
