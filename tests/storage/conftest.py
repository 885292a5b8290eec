"""A real S3-compatible server (SeaweedFS) for the session, and a fresh place per test.

SeaweedFS gives each bucket volumes of its own, so the tests share one bucket and each test
keeps its files under a prefix of its own."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fixtures.servers import S3Server

_places = itertools.count(1)
BUCKET = "helpline-tests"


@dataclass
class Place:
    s3: S3Server
    bucket: str
    prefix: str

    def settings(self) -> dict[str, str]:
        return self.s3.settings(self.bucket, self.prefix)

    def keys(self) -> list[str]:
        """Every object key under this test's prefix."""
        listing = self.s3.client().list_objects_v2(Bucket=self.bucket, Prefix=self.prefix + "/")
        return [o["Key"] for o in listing.get("Contents", [])]

    def pending_uploads(self) -> list[str]:
        """Multipart uploads under this prefix begun and neither completed nor aborted."""
        listing = self.s3.client().list_multipart_uploads(
            Bucket=self.bucket, Prefix=self.prefix + "/"
        )
        return [u["Key"] for u in listing.get("Uploads", [])]


@pytest.fixture(scope="session")
def s3_bucket(s3_server: S3Server) -> str:
    return s3_server.create_bucket(BUCKET)


@pytest.fixture
def place(s3_server: S3Server, s3_bucket: str) -> Place:
    return Place(s3_server, s3_bucket, f"t{next(_places)}")


@pytest.fixture
def settings_overrides(place: Place) -> dict[str, Any]:
    return {**place.settings(), "s3_part_mb": 5, "max_upload_mb": 100}
