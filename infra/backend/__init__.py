"""`mlinfra backend init`: create, idempotently, the bucket Pulumi keeps its state in and the
KMS key of its secrets provider, then print the `pulumi login` and `--secrets-provider` lines.

aws.py and gcp.py hold each cloud; common.py the plan, the report and the name rules. The
cloud SDKs are an optional extra (requirements-backend.txt): they are imported only here,
only for the cloud asked for, so the rest of mlinfra and `pulumi up` never need them.
"""

from __future__ import annotations

import sys
from typing import Any, Optional, TextIO

from infra.backend.common import BackendError, Options, check_name, execute

_PACKAGES = {"aws": "boto3", "gcp": "google-cloud-storage and google-cloud-kms"}


def options_from_args(args: Any) -> Options:
    if args.region and args.location and args.region != args.location:
        raise BackendError("mlinfra backend init: give --region or --location, not both (they are one setting).")
    if args.cloud == "gcp" and args.endpoint_url:
        raise BackendError("mlinfra backend init: --endpoint-url is for AWS; for a Cloud Storage emulator "
                           "set STORAGE_EMULATOR_HOST instead.")
    return Options(cloud=args.cloud, bucket=args.bucket, region=args.region or args.location,
                   project=args.project, endpoint_url=args.endpoint_url, dry_run=args.dry_run, fix=args.fix)


def init(options: Options, out: Optional[TextIO] = None) -> int:
    """Plan against the cloud's current state, then refuse, report (--dry-run) or apply."""
    out = out or sys.stdout
    check_name(options.bucket, options.cloud)
    try:
        if options.cloud == "aws":
            from infra.backend import aws as cloud
        else:
            from infra.backend import gcp as cloud  # type: ignore[no-redef]
    except ImportError as error:
        raise BackendError(f"mlinfra backend init --cloud {options.cloud} needs {_PACKAGES[options.cloud]} "
                           f"(missing: {error.name}).\n  fix: .venv/bin/pip install -r requirements-backend.txt") from None
    plan = cloud.plan(options)
    execute(plan, options, out)
    return 0


def run(args: Any) -> int:
    return init(options_from_args(args))
