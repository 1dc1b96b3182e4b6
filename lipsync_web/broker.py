"""The embedded broker of `make run` and the tests: kombu's filesystem transport, with each
message put in place whole.

kombu's own `_put` creates the message file under its final name, then writes it. A worker
polling the folder can take the file in between and read it empty: its consumer then dies
on the JSON ("Expecting value") and the message is never run. Here the message is written
under a name that no reader takes (readers only take names ending in `.<queue>.msg`) and
renamed into place, which is atomic within one folder.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: dict, **kwargs) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = f"{final}.part"
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as error:
            with contextlib.suppress(OSError):
                os.remove(partial)
            raise ChannelError(f"Cannot add file {final!r} to directory") from error


class Transport(filesystem.Transport):
    Channel = Channel
