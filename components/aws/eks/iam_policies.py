"""IAM policy documents the EKS components share: plain functions returning JSON text."""

from __future__ import annotations

import json

MANAGED = "arn:aws:iam::aws:policy/"


def assume_role(service: str, tag_session: bool = False) -> str:
    """A trust policy letting an AWS service assume the role (Pod Identity also tags the session)."""
    actions = ["sts:AssumeRole", "sts:TagSession"] if tag_session else "sts:AssumeRole"
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": actions}]})


POD_IDENTITY_TRUST = assume_role("pods.eks.amazonaws.com", tag_session=True)


def document(statements: list) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements})
