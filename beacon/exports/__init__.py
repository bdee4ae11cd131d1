"""Uploads (S3, GCS) and forwards (OTLP, HEC) of a finished run.

``settings`` and ``keys`` are pure and cheap; each destination's module is imported
only when that destination is used (``ci exec`` without ``--upload`` never loads
aiobotocore or gcloud-aio-storage).
"""
