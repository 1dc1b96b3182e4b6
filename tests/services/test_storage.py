"""Files in storage: on S3 an object keeps the content type the probe found (django-storages
would otherwise guess it from the name, or take what the browser claimed)."""

from __future__ import annotations

import boto3
from django.db.models.fields.files import FieldFile
from moto import mock_aws
from storages.backends.s3 import S3Storage

from projects.models import SourceVideo
from projects.services.storage import store_as


def test_an_s3_object_is_served_with_the_content_type_it_was_stored_as(tmp_path):
    local = tmp_path / "upload"
    local.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="media")
        field_file = FieldFile(None, SourceVideo._meta.get_field("file"), None)
        field_file.storage = S3Storage(
            bucket_name="media", region_name="us-east-1", access_key="a", secret_key="b"
        )
        # A name that says nothing (as stored names are until probed): only the type given counts.
        name = store_as(field_file, local, "videos/neutral-name", "video/mp4")
        stored = s3.head_object(Bucket="media", Key=name)
    assert stored["ContentType"] == "video/mp4"
    assert stored["ContentLength"] == local.stat().st_size
