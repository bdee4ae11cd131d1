"""The fleet tests reuse the export tests' local stores (moto and fake-gcs-server)."""

from tests.exports.conftest import fake_gcs, gcs_bucket, moto, s3_bucket  # noqa: F401
