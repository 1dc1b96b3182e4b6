"""Entry point of the probe subprocess: `python -m projects.mediakit.probe_worker PATH`.

Prints one JSON line, {"info": {...}} or {"error": "message for the person"}, and exits 0;
anything else (a crash, a kill by its own limits) is read by the parent as a damaged file.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path

# Room for FFmpeg's decoders on a large frame, not for a decompression bomb.
ADDRESS_SPACE_BYTES = 2 * 1024 * 1024 * 1024


def _limit_resources(cpu_seconds: int) -> None:
    """Limits set by the child on itself (no preexec_fn: unsafe in a threaded parent)."""
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # a probe never writes a file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", type=Path)
    parser.add_argument("--expect", choices=("video", "audio", "any"), default="any")
    parser.add_argument("--cpu-seconds", type=int, default=11)
    args = parser.parse_args(argv)
    _limit_resources(args.cpu_seconds)

    import av.logging  # imported after the limits, so they cover FFmpeg's own start-up

    from projects.mediakit.errors import MediaError
    from projects.mediakit.probe import inspect_media

    av.logging.set_level(None)  # FFmpeg's warnings are for us in the logs, not for the user
    expect = None if args.expect == "any" else args.expect
    try:
        answer = {"info": inspect_media(args.path, expect).to_dict()}
    except MediaError as error:
        answer = {"error": error.message}
    sys.stdout.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
