"""Request authentication: Kling's JWT (official) and the proxy's static bearer token.

Claims are checked against the simulator's own clock rather than pyjwt's, so tests can skew
time on either side and see 1003/1004 exactly as clock drift would produce them.
"""

from __future__ import annotations

import hmac

import jwt

from projects.engines.simulator.errors import ApiError


def _bearer(header: str | None) -> str:
    if not header or not header.strip():
        raise ApiError(1001, "The Authorization header is empty.")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(1002, "The Authorization header must be 'Bearer <token>'.")
    return token.strip()


def check_jwt(header: str | None, *, access_key: str, secret_key: str, now_s: float) -> None:
    """Raise the contract's 1000-1004 error for a bad official token; return quietly if fine."""
    token = _bearer(header)
    try:
        header_fields = jwt.get_unverified_header(token)
    except jwt.DecodeError as error:
        raise ApiError(1002, f"The token is not a JWT: {error}.") from error
    if header_fields.get("alg") != "HS256":
        raise ApiError(1002, "The token must be signed with HS256.")
    try:
        claims = jwt.decode(
            token,
            secret_key,
            algorithms=["HS256"],
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.InvalidSignatureError as error:
        raise ApiError(1000, "The token's signature does not match the secret key.") from error
    except jwt.InvalidTokenError as error:
        raise ApiError(1002, f"The token cannot be read: {error}.") from error
    _check_claims(claims, access_key=access_key, now_s=now_s)


def _check_claims(claims: dict, *, access_key: str, now_s: float) -> None:
    if claims.get("iss") != access_key:
        raise ApiError(1000, "The token's issuer (iss) is not a known access key.")
    for name in ("exp", "nbf"):
        if not isinstance(claims.get(name), int | float):
            raise ApiError(1002, f"The token has no numeric '{name}' claim.")
    if claims["nbf"] > now_s:
        raise ApiError(1003, "The token is not valid yet (nbf is in the future).")
    if claims["exp"] <= now_s:
        raise ApiError(1004, "The token has expired.")


def check_proxy_token(header: str | None, *, expected: str) -> None:
    """The proxy's bearer token; raises 1001 (missing) or 1000 (wrong)."""
    token = _bearer(header)
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise ApiError(1000, "The API token is not valid.")
