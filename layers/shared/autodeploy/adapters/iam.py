"""IAM roles as the verifier needs them: does a role exist, and which services may assume it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError

from autodeploy.adapters.aws import error_code, translate


def role_name(role_arn: str) -> str:
    """``arn:aws:iam::123456789012:role/path/name`` -> ``name`` (GetRole takes the name without its path)."""
    return role_arn.rsplit("/", 1)[-1]


def trusted_services(document: Any) -> set[str]:
    """The service principals a trust policy lets call sts:AssumeRole.

    GetRole returns the document URL-encoded (IAM API reference, GetRole: "AssumeRolePolicyDocument
    ... URL-encoded compliant with RFC 3986"); boto3 decodes it into a dict, other clients may not.
    """
    if isinstance(document, str):
        document = json.loads(unquote(document))
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    services: set[str] = set()
    for statement in statements:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") != "Allow" or not {"sts:AssumeRole", "sts:*", "*"} & set(actions):
            continue
        principal = statement.get("Principal", {})
        named = principal.get("Service", []) if isinstance(principal, dict) else []
        services.update([named] if isinstance(named, str) else named)
    return services


class IamRoles:
    def __init__(self, iam: Any) -> None:
        self._iam = iam

    def trusted_services(self, role_arn: str) -> set[str] | None:
        """The services that may assume the role, or None when the role does not exist."""
        try:
            role = self._iam.get_role(RoleName=role_name(role_arn))["Role"]
        except ClientError as exc:
            if error_code(exc) == "NoSuchEntity":
                return None
            translate(exc, f"reading role {role_arn}")
        except BotoCoreError as exc:
            translate(exc, f"reading role {role_arn}")
        return trusted_services(role.get("AssumeRolePolicyDocument", {}))
