"""The embedded broker puts each message in place whole: a worker polling the folder while a
message is being written sees nothing, then the whole message (never an empty file)."""

from __future__ import annotations

import os
from queue import Empty
from unittest import mock

import pytest
from kombu import Connection
from kombu.transport import filesystem

from lipsync_web import broker


@pytest.fixture
def channels(tmp_path):
    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path)}
    with (
        Connection("filesystem://", transport=broker.Transport, transport_options=options) as ours,
        Connection("filesystem://", transport_options=options) as stock,
    ):
        yield ours.default_channel, stock.default_channel


def test_a_message_being_written_is_not_taken_and_then_is_taken_whole(channels, tmp_path):
    writer, reader = channels
    seen_while_writing: list[object] = []
    rename = os.replace

    def rename_after_a_reader_polled(source, target):
        try:
            seen_while_writing.append(reader._get("celery"))
        except Exception as error:  # what a reader gets is the finding
            seen_while_writing.append(error)
        rename(source, target)

    payload = {"body": "x" * 100_000, "headers": {"task": "projects.background.probe_video"}}
    with mock.patch.object(broker.os, "replace", rename_after_a_reader_polled):
        writer._put("celery", payload)

    (while_writing,) = seen_while_writing
    assert isinstance(while_writing, Empty)
    assert reader._get("celery") == payload
    assert not list(tmp_path.iterdir())  # taken: nothing left behind, no partial file


def test_the_stock_transport_can_hand_out_an_empty_message(channels, tmp_path):
    """Why our transport exists: kombu's own `_put` names the file before writing it."""
    _, reader = channels
    (tmp_path / "1_x.celery.msg").write_bytes(b"")  # as kombu's file is before its write
    with pytest.raises(ValueError):
        reader._get("celery")
    assert isinstance(reader, filesystem.Channel)


def test_the_app_uses_it_for_the_embedded_broker():
    from lipsync_web.celery import app

    with app.connection_for_write() as connection:
        assert isinstance(connection.default_channel, broker.Channel)
