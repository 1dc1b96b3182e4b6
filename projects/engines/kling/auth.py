"""Credentials for Kling: the official API's renewable JWT, or the proxy's static token."""

from __future__ import annotations

import time
from collections.abc import Callable

import jwt

TOKEN_LIFETIME_S = 1800
TOKEN_NOT_BEFORE_S = 5
TOKEN_RENEW_MARGIN_S = 300


class JwtTokens:
    """Kling's HS256 JWT from an access key and secret key, renewed before it expires."""

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        *,
        clock: Callable[[], float] = time.time,
        renew_margin_s: float = TOKEN_RENEW_MARGIN_S,
    ) -> None:
        if not access_key or not secret_key:
            raise ValueError("Kling needs KLING_ACCESS_KEY and KLING_SECRET_KEY.")
        self._access_key, self._secret_key = access_key, secret_key
        self._clock, self._margin = clock, renew_margin_s
        self._token, self._expires_at = "", 0.0

    def token(self) -> str:
        if not self._token or self._clock() >= self._expires_at - self._margin:
            self.renew()
        return self._token

    def renew(self) -> None:
        now = int(self._clock())
        self._expires_at = now + TOKEN_LIFETIME_S
        claims = {"iss": self._access_key, "exp": self._expires_at, "nbf": now - TOKEN_NOT_BEFORE_S}
        self._token = jwt.encode(claims, self._secret_key, algorithm="HS256")


class StaticToken:
    """The proxy's bearer token: nothing to renew."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("The lip-sync proxy needs LIPSYNC_PROXY_TOKEN.")
        self._token = token

    def token(self) -> str:
        return self._token

    def renew(self) -> None:
        """A static token cannot be renewed; a retry sends the same one."""
