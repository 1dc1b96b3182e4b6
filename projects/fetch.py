"""The one way the app downloads from an address a person (or an engine) gave us.

A user-given URL must not reach inside our network (the cloud metadata service at
169.254.169.254, a database on 10.x, the app itself on 127.0.0.1), must not fill the disk and
must not hold a worker forever. So:

* only http and https; no user:password@ in the address;
* the name is resolved by us, every address it resolves to is checked with `ipaddress`
  (loopback, private, link-local, CGNAT, multicast, reserved, unspecified, and IPv4 hidden in
  IPv6: mapped, 6to4, NAT64, Teredo), and the connection is made to the address we checked.
  This happens inside httpcore's network backend, at connect time, for every hop, so a DNS
  answer cannot change between the check and the connection (rebinding), and numeric tricks
  (127.1, 0x7f000001, 2130706433, [::ffff:127.0.0.1]) are judged by what they resolve to.
  TLS still verifies the certificate and sends SNI for the name in the address;
* redirects are followed by hand, at most 5, each hop checked the same way;
* the body is streamed to a temporary file with a byte cap (Content-Length is respected when
  it is already too big, never trusted when small), and one deadline bounds the whole fetch:
  every socket read and write waits at most until it, so a slow-drip server is cut on time;
* on any failure the partial file is deleted, and one `FetchError` says what happened in words
  a person can act on.

Nothing here imports Django.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import certifi
import httpcore

from projects.mediakit.wording import megabytes

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ALLOWED_SCHEMES = frozenset({"http", "https"})
CHUNK_BYTES = 64 * 1024
USER_AGENT = b"lipsync-web-fetch/1"

NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")

INSIDE_NETWORK = "That address points inside our network, so we can't fetch it."


class FetchError(Exception):
    """A download that did not happen; `message` is for the person who gave the address."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class FetchResult:
    path: Path
    size: int
    content_type: str
    final_url: str


def fetch_to_file(
    url: str,
    dest: Path | str,
    *,
    max_bytes: int,
    total_timeout_s: float = 60,
    connect_timeout_s: float = 10,
    allowed_private_hosts: frozenset[str] = frozenset(),
) -> FetchResult:
    """Download `url` to `dest` under the rules above; raise FetchError, leaving no file."""
    dest = Path(dest)
    part = dest.with_name(f".{dest.name}.part")
    deadline = _Deadline(total_timeout_s)
    allowed = frozenset(_normal_host(host) for host in allowed_private_hosts)
    backend = _VettingBackend(deadline, connect_timeout_s, allowed)
    try:
        with httpcore.ConnectionPool(
            ssl_context=_ssl_context(), network_backend=backend, retries=0
        ) as pool:
            final_url, content_type, size = _follow_and_save(pool, url, part, max_bytes, deadline)
        part.replace(dest)
    except BaseException as error:
        part.unlink(missing_ok=True)
        raise _as_fetch_error(error, deadline, total_timeout_s) from error
    return FetchResult(dest, size, content_type, final_url)


def is_public_address(address: str) -> bool:
    """True only for a globally routable unicast address, with IPv4-in-IPv6 unwrapped."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.teredo is not None:
            return False  # a tunnel to an address we cannot see
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return is_public_address(str(embedded))
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (numeric forms like 127.1 are parsed the C way)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64 or (ip in IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _follow_and_save(
    pool: httpcore.ConnectionPool, url: str, part: Path, max_bytes: int, deadline: _Deadline
) -> tuple[str, str, int]:
    for _hop in range(MAX_REDIRECTS + 1):
        _check_address_form(url)
        with pool.stream(
            "GET", url, headers=_request_headers(url), extensions=deadline.timeouts()
        ) as response:
            if response.status in REDIRECT_STATUSES:
                url = urljoin(url, _header(response, b"location"))
                continue
            if response.status != 200:
                raise FetchError(
                    f"The server answered {response.status} instead of sending the file. "
                    "Check that the link opens the file in a browser without signing in."
                )
            _refuse_declared_size(response, max_bytes)
            size = _save_capped(response.iter_stream(), part, max_bytes)
            return url, _header(response, b"content-type"), size
    raise FetchError(f"The address sent us on more than {MAX_REDIRECTS} redirects, so we stopped.")


def _check_address_form(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise FetchError("Only web addresses starting with http:// or https:// can be fetched.")
    if not parts.hostname:
        raise FetchError("This web address has no server name in it. Please check it.")
    if parts.username is not None or parts.password is not None:
        raise FetchError(
            "Addresses with a user name or password in them can't be used. "
            "Please share a link that works without signing in."
        )


def _request_headers(url: str) -> list[tuple[bytes, bytes]]:
    host = urlsplit(url).netloc.rsplit("@", 1)[-1]
    return [
        (b"Host", host.encode("idna")),
        (b"User-Agent", USER_AGENT),
        # No compression: the byte cap must count what lands on disk.
        (b"Accept-Encoding", b"identity"),
    ]


def _header(response: httpcore.Response, name: bytes) -> str:
    for key, value in response.headers:
        if key.lower() == name:
            return value.decode("latin-1")
    if name == b"location":
        raise FetchError(
            "The server sent a redirect without saying where to. Please check the link."
        )
    return ""


def _refuse_declared_size(response: httpcore.Response, max_bytes: int) -> None:
    declared = _header(response, b"content-length")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_big(max_bytes)


def _save_capped(chunks: Iterable[bytes], part: Path, max_bytes: int) -> int:
    size = 0
    with part.open("wb") as handle:
        for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise _too_big(max_bytes)  # the caller deletes the partial file
            handle.write(chunk)
    return size


def _too_big(max_bytes: int) -> FetchError:
    return FetchError(
        f"The file is larger than {megabytes(max_bytes)}, so the download was stopped."
    )


def _as_fetch_error(error: BaseException, deadline: _Deadline, total_s: float) -> BaseException:
    if isinstance(error, FetchError):
        return error
    if deadline.passed or isinstance(error, httpcore.TimeoutException):
        return FetchError(f"The download took longer than {total_s:g} s and was stopped.")
    if isinstance(error, httpcore.ConnectError) and isinstance(error.__context__, ssl.SSLError):
        return FetchError("The server's security certificate is not valid, so we stopped.")
    if isinstance(error, (httpcore.NetworkError, httpcore.ProtocolError, OSError)):
        return FetchError(
            "We couldn't download from that server. Check the address, or try again later."
        )
    return error


def _normal_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=certifi.where())


class _Deadline:
    """One point in time by which the whole fetch, all hops included, must be done."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.at

    def remaining(self, cap: float | None = None) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout("deadline reached")
        return left if cap is None else min(cap, left)

    def timeouts(self) -> dict[str, dict[str, float]]:
        left = self.remaining()
        return {"timeout": {"connect": left, "read": left, "write": left, "pool": left}}


class _VettingBackend(httpcore.NetworkBackend):
    """Resolves, vets and connects to the vetted address: the check and the use are one step."""

    def __init__(self, deadline: _Deadline, connect_timeout_s: float, allowed: frozenset[str]):
        self.deadline = deadline
        self.connect_timeout_s = connect_timeout_s
        self.allowed = allowed
        self.plain = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self._vetted_addresses(host, port)
        last_error: Exception | None = None
        for address in addresses:
            try:
                stream = self.plain.connect_tcp(
                    address,
                    port,
                    timeout=self.deadline.remaining(self.connect_timeout_s),
                    socket_options=socket_options,
                )
                return _DeadlineStream(stream, self.deadline)
            except httpcore.ConnectError as error:
                last_error = error  # try the name's next address, as browsers do
        raise last_error or httpcore.ConnectError("no address")

    def connect_unix_socket(self, *args, **kwargs) -> httpcore.NetworkStream:
        raise FetchError(INSIDE_NETWORK)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def _vetted_addresses(self, host: str, port: int) -> list[str]:
        name = _normal_host(host)
        addresses = _resolve_within(name, port, self.deadline.remaining(self.connect_timeout_s))
        if name in self.allowed:
            return addresses
        # One private answer is enough to refuse: a name that mixes both is up to something.
        if not addresses or not all(is_public_address(address) for address in addresses):
            raise FetchError(INSIDE_NETWORK)
        return addresses


def _resolve_within(host: str, port: int, seconds: float) -> list[str]:
    """`resolve_host` bounded in time: getaddrinfo itself has no timeout."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(resolve_host, host, port).result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        raise httpcore.ConnectTimeout("name lookup timed out") from None
    except (socket.gaierror, UnicodeError):
        raise FetchError(
            f"We couldn't find the server {host}. Please check the address for typos."
        ) from None
    finally:
        pool.shutdown(wait=False)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write waits no later than the fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self.inner = inner
        self.deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, timeout=self.deadline.remaining(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, timeout=self.deadline.remaining(timeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        secured = self.inner.start_tls(
            ssl_context, server_hostname, timeout=self.deadline.remaining(timeout)
        )
        return _DeadlineStream(secured, self.deadline)

    def get_extra_info(self, info: str) -> object:
        return self.inner.get_extra_info(info)
