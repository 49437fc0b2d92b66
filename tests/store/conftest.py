"""An S3-compatible server on loopback (moto in server mode) and a fresh bucket for each test.

This folder is a package, so this conftest imports as `store.conftest` and `from conftest import
GitRepo` keeps naming the root conftest.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from headstart.config import object_store_options
from headstart.store import Embedder, Store


@dataclass
class Bucket:
    """A bucket on the loopback S3 server, with the environment a process needs to reach it."""

    uri: str
    environ: dict[str, str]

    @property
    def options(self) -> dict[str, str]:
        return object_store_options(self.uri, {}, self.environ)

    def store(self, embedder: Embedder) -> Store:
        return Store(self.uri, embedder, storage_options=self.options)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint: str) -> Bucket:
    boto3 = pytest.importorskip("boto3")
    name = f"headstart-{uuid.uuid4().hex[:12]}"
    environ = {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ALLOW_HTTP": "true",
    }
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=name)
    return Bucket(uri=f"s3://{name}/headstart", environ=environ)
