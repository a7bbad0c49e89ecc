"""The cross-account grants as CloudFormation would render them (moto enforces no IAM).

A small evaluator renders the template's intrinsic functions for given parameters, then the
rendered statements are checked against AWS's published formats: an ECR repository ARN is
``arn:${Partition}:ecr:${Region}:${Account}:repository/${RepositoryName}`` (Service Authorization
Reference, Amazon ECR resource types), and a repository policy needs ``ecr:BatchGetImage`` and
``ecr:GetDownloadUrlForLayer`` to pull and ``ecr:DescribeImages`` to read (Amazon ECR User Guide,
"Private repository policy examples").
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any

import pytest

from tools.template import ROOT, load_template

NO_VALUE = object()


class Rendered:
    def __init__(self, template: dict[str, Any], parameters: dict[str, str], partition: str = "aws") -> None:
        region = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}[partition]
        defaults = {k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()}
        self.refs = {
            **defaults,
            **parameters,
            "AWS::AccountId": "123456789012",
            "AWS::Region": region,
            "AWS::Partition": partition,
        }
        self.template = template

    def condition(self, name: str) -> bool:
        return bool(self.value(self.template["Conditions"][name]))

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.value(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) != 1:
            return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not NO_VALUE}
        [(key, arg)] = node.items()
        if key == "Ref":
            if arg == "AWS::NoValue":
                return NO_VALUE
            return self.refs.get(arg, f"<{arg}>")  # a resource: its logical id stands in
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::Equals":
            left, right = (self.value(a) for a in arg)
            return left == right
        if key == "Fn::Not":
            return not self.value(arg[0])
        if key == "Fn::Or":
            return any(self.value(a) for a in arg)
        if key == "Fn::If":
            return self.value(arg[1] if self.condition(arg[0]) else arg[2])
        if key == "Fn::Join":
            return arg[0].join(self.value(arg[1]))
        if key == "Fn::Split":
            return self.value(arg[1]).split(arg[0])
        if key == "Fn::Sub":
            text, names = (arg, {}) if isinstance(arg, str) else (arg[0], {k: self.value(v) for k, v in arg[1].items()})
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(names.get(m.group(1), self.refs.get(m.group(1)))), text)
        if key == "Fn::GetAtt":
            return f"<{arg if isinstance(arg, str) else '.'.join(arg)}>"
        return {key: self.value(arg)}


def rollout_statements(parameters: dict[str, str], partition: str = "aws") -> dict[str, dict[str, Any]]:
    rendered = Rendered(load_template(), parameters, partition)
    policy = load_template()["Resources"]["RolloutPolicy"]["Properties"]["PolicyDocument"]
    return {s["Sid"]: s for s in rendered.value(policy["Statement"])}


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_the_deployer_may_read_exactly_the_accepted_registries_in_the_accepted_regions(partition):
    statements = rollout_statements(
        {"AcceptedAccounts": "111122223333,444455556666", "AcceptedRegions": "eu-west-1"}, partition
    )
    read = statements["ReadImagesInAcceptedRegistries"]
    home_region = Rendered(load_template(), {}, partition).refs["AWS::Region"]

    assert read["Action"] == ["ecr:DescribeImages", "ecr:DescribeImageScanFindings"]
    assert read["Resource"] == [
        f"arn:{partition}:ecr:*:{account}:repository/*" for account in ("123456789012", "111122223333", "444455556666")
    ]
    assert read["Condition"] == {"StringEquals": {"aws:RequestedRegion": [home_region, "eu-west-1"]}}

    def allowed(account: str, region: str) -> bool:
        arn = f"arn:{partition}:ecr:{region}:{account}:repository/team/web"
        regions = read["Condition"]["StringEquals"]["aws:RequestedRegion"]
        return any(fnmatchcase(arn, pattern) for pattern in read["Resource"]) and region in regions

    assert allowed("111122223333", "eu-west-1") and allowed("444455556666", home_region)
    assert not allowed("999999999999", "eu-west-1")
    assert not allowed("111122223333", "ap-south-1")


def test_only_accepted_regions_widen_the_read_to_this_account_elsewhere():
    read = rollout_statements({"AcceptedRegions": "eu-west-1,eu-central-1"})["ReadImagesInAcceptedRegistries"]
    assert read["Resource"] == ["arn:aws:ecr:*:123456789012:repository/*"]
    assert read["Condition"]["StringEquals"]["aws:RequestedRegion"] == ["us-east-1", "eu-west-1", "eu-central-1"]


def test_without_accepted_origins_the_deployer_reads_only_its_own_registry():
    statements = rollout_statements({})
    assert "ReadImagesInAcceptedRegistries" not in statements
    assert statements["ReadImages"]["Resource"] == "arn:aws:ecr:us-east-1:123456789012:repository/*"


def test_the_default_bus_lets_exactly_the_accepted_accounts_put_events():
    template = load_template()
    bus_policy = template["Resources"]["RegistryPushesBusPolicy"]
    rendered = Rendered(template, {"AcceptedAccounts": "111122223333,444455556666"})

    assert rendered.condition(bus_policy["Condition"])
    assert not Rendered(template, {}).condition(bus_policy["Condition"])
    statement = rendered.value(bus_policy["Properties"]["Statement"])
    assert statement["Principal"] == {"AWS": ["111122223333", "444455556666"]}
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"] == "arn:aws:events:us-east-1:123456789012:event-bus/default"


@pytest.mark.parametrize(
    ("parameter", "value", "valid"),
    [
        ("AcceptedAccounts", "", True),
        ("AcceptedAccounts", "111122223333,444455556666", True),
        ("AcceptedAccounts", "111122223333 444455556666", False),
        ("AcceptedAccounts", "11112222333", False),
        ("AcceptedRegions", "eu-west-1,us-gov-west-1", True),
        ("AcceptedRegions", "eu-west-1, us-east-1", False),
    ],
)
def test_accepted_origins_are_comma_separated_lists_cloudformation_checks(parameter, value, valid):
    pattern = load_template()["Parameters"][parameter]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) is valid


def test_the_registry_stack_shares_read_and_pull_and_forwards_successful_pushes():
    template = load_template(ROOT / "stacks" / "registry.yaml")
    parameters = {
        "RepositoryName": "web",
        "WorkloadAccounts": "444455556666,777788889999",
        "WorkloadEventBus": "arn:aws:events:us-east-1:444455556666:event-bus/default",
        "SecondWorkloadEventBus": "arn:aws:events:eu-west-1:777788889999:event-bus/default",
    }
    rendered = Rendered(template, parameters)
    rendered.refs["WorkloadAccounts"] = parameters["WorkloadAccounts"].split(",")  # a CommaDelimitedList
    resources = rendered.value(template["Resources"])

    [share] = resources["Repository"]["Properties"]["RepositoryPolicyText"]["Statement"]
    assert set(share["Action"]) == {
        "ecr:DescribeImages",
        "ecr:DescribeImageScanFindings",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    }
    assert share["Principal"] == {"AWS": ["444455556666", "777788889999"]}
    rule = resources["ForwardPushes"]["Properties"]
    assert rule["EventPattern"] == {
        "source": ["aws.ecr"],
        "detail-type": ["ECR Image Action"],
        "detail": {"action-type": ["PUSH"], "result": ["SUCCESS"], "repository-name": ["web"]},
    }
    assert [(t["Arn"], t["RoleArn"]) for t in rule["Targets"]] == [
        (parameters["WorkloadEventBus"], "<ForwardPushesRole.Arn>"),
        (parameters["SecondWorkloadEventBus"], "<ForwardPushesRole.Arn>"),
    ]
    [put] = resources["ForwardPushesRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert put["Resource"] == [parameters["WorkloadEventBus"], parameters["SecondWorkloadEventBus"]]
