"""The contract's error table (section 6) and the two error body shapes the simulator answers."""

from __future__ import annotations

import uuid

from projects.engines.rules import RuleViolation, response_code

# code -> (HTTP status, what the code means), straight from the contract's table.
ERROR_TABLE: dict[int, tuple[int, str]] = {
    1000: (401, "Authentication failed"),
    1001: (401, "Authorization is empty"),
    1002: (401, "Authorization is invalid"),
    1003: (401, "Authorization is not yet valid"),
    1004: (401, "Authorization has expired"),
    1100: (429, "Account exception"),
    1101: (429, "Account in arrears"),
    1102: (429, "Resource pack depleted or expired"),
    1103: (403, "Unauthorized access to requested resource"),
    1200: (400, "Invalid request parameters"),
    1201: (400, "Invalid parameters"),
    1202: (404, "The requested method is invalid"),
    1203: (404, "The requested resource does not exist"),
    1300: (400, "Trigger platform strategy"),
    1301: (400, "Trigger the content security policy of the platform"),
    1302: (429, "The API request is too fast"),
    1303: (429, "Concurrency or QPS exceeds the prepaid resource package limit"),
    1304: (429, "Trigger the platform's IP whitelisting policy"),
    5000: (500, "Server internal error"),
    5001: (503, "Server temporarily unavailable"),
    5002: (504, "Server internal timeout"),
}

# Kling codes as the API proxy reports them (its own string codes and HTTP statuses).
PROXY_CODES: dict[int, tuple[int, str]] = {
    1000: (401, "invalid_token"),
    1001: (401, "authorization_missing"),
    1002: (401, "invalid_token"),
    1004: (401, "token_expired"),
    1101: (403, "used_up"),
    1102: (403, "used_up"),
    1300: (403, "forbidden"),
    1301: (403, "forbidden"),
    1302: (429, "too_many_requests"),
    1303: (429, "too_many_requests"),
    5000: (500, "api_error"),
    5001: (500, "api_error"),
    5002: (500, "api_error"),
}

CONTENT_POLICY_MESSAGE = (
    "Failure to pass the risk control system: the content triggers the platform's content policy."
)


class ApiError(Exception):
    """An error answer: the code decides the HTTP status unless one is given."""

    def __init__(self, code: int, message: str = "", *, retry_after_s: float | None = None):
        self.code = code
        self.message = message or ERROR_TABLE[code][1]
        self.retry_after_s = retry_after_s
        super().__init__(f"{code}: {self.message}")

    @property
    def http_status(self) -> int:
        return ERROR_TABLE[self.code][0]

    @classmethod
    def from_violations(cls, violations: list[RuleViolation]) -> ApiError:
        code = response_code(violations) or 1200
        return cls(code, " ".join(violation.text for violation in violations))


def new_request_id() -> str:
    return str(uuid.uuid4())


def official_body(code: int, message: str, request_id: str, data: object = None) -> dict:
    body: dict = {"code": code, "message": message, "request_id": request_id}
    if data is not None:
        body["data"] = data
    return body


def proxy_error(code: int, message: str) -> tuple[int, dict]:
    """The proxy's `{success: false, error: {code, message}, trace_id}` for a Kling code."""
    status, proxy_code = PROXY_CODES.get(code, (400, "bad_request"))
    body = {
        "success": False,
        "error": {"code": proxy_code, "message": message},
        "trace_id": new_request_id(),
    }
    return status, body


def proxy_detail_error(code: int, message: str) -> tuple[int, dict]:
    """Seed 000's other proxy shape, `{code, detail}`, used by the flat `/kling/lip-sync`."""
    status, proxy_code = PROXY_CODES.get(code, (400, "bad_request"))
    return status, {"code": proxy_code, "detail": message}
