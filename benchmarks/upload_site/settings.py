"""The product's settings (``api.settings``), with ``benchmarks.upload_site.urls`` as the URLconf: the product's
routes and one plain upload view beside them, in the same server. Never used outside ``benchmarks.uploads``."""

from __future__ import annotations

import os

from api.settings import *  # noqa: F403
from api.settings import MIDDLEWARE, VAR_DIR

ROOT_URLCONF = "benchmarks.upload_site.urls"
# The product's request guard caps bodies at 1 MiB but for ``POST attachments/``: the plain view gets the same
# limit as the product's upload, everything else the product's guard unchanged.
MIDDLEWARE = [
    "benchmarks.upload_site.urls.GuardMiddleware" if m == "api.middleware.RequestGuardMiddleware" else m
    for m in MIDDLEWARE
] + ["benchmarks.upload_site.urls.PhotoRuleMiddleware"]  # the rectify comparison's photo rule, per request
PLAIN_UPLOAD_DIR = os.environ.get("PLAIN_UPLOAD_DIR") or str(VAR_DIR / "plain-uploads")
# ``benchmarks.uploads --storage files``: the product's blobs in files (synced) instead of its database.
if os.environ.get("BENCH_ATTACHMENT_FILES"):
    STORAGES = {
        **STORAGES,  # noqa: F405
        "attachments": {
            "BACKEND": "projections.attachments.DurableFileSystemStorage",
            "OPTIONS": {"location": os.environ["BENCH_ATTACHMENT_FILES"], "allow_overwrite": True},
        },
    }
