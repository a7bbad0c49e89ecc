"""The README's commands, the template and the code agree: every command in the README names a real
make target, CLI command, event file, template or stack parameter; every metric the dashboard plots
is one the code emits."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from autodeploy.cli import build_parser
from tools.template import ROOT, load_template

README = (ROOT / "README.md").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()
CODE = "\n".join(p.read_text() for p in (ROOT / "layers" / "shared" / "autodeploy").rglob("*.py")) + "\n".join(
    p.read_text() for p in (ROOT / "functions").rglob("*.py")
)


def test_every_make_target_in_the_readme_exists():
    targets = set(re.findall(r"^([a-z0-9-]+):", MAKEFILE, re.MULTILINE))
    used = set(re.findall(r"\bmake ([a-z][a-z0-9-]*)", README))
    assert used
    assert used <= targets


def test_every_autodeploy_command_in_the_readme_exists():
    commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    used = set(re.findall(r"(?:^|`)autodeploy ([a-z]+)\b", README, re.MULTILINE))
    assert used
    assert used <= commands


def test_every_autodeploy_option_in_the_readme_exists():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    known = {o for action in parser._actions for o in action.option_strings}
    for sub in commands.values():
        known |= {o for action in sub._actions for o in action.option_strings}
    lines = re.findall(r"(?:^|`)autodeploy (.*?)(?:`|#|$)", README, re.MULTILINE)
    used = {option for line in lines for option in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", line)}
    assert used
    assert used <= known


def test_every_event_file_in_the_readme_exists():
    used = set(re.findall(r"events/([a-z0-9-]+\.json)", README))
    assert used
    assert all((ROOT / "events" / name).is_file() for name in used)


def test_every_template_parameter_is_documented_and_every_documented_one_exists():
    parameters = set(load_template()["Parameters"])
    documented = set(re.findall(r"^\| `([A-Z][a-z][A-Za-z]+)` \|", README, re.MULTILINE))
    assert parameters == documented


@pytest.mark.parametrize("stack", ["alb", "cluster", "service", "registry"])
def test_the_stack_commands_pass_parameters_the_stacks_have(stack):
    template = load_template(ROOT / "stacks" / f"{stack}.yaml")
    command = re.search(rf"--template-file stacks/{stack}\.yaml(.*?)(?:\n```|\naws )", README, re.DOTALL)
    assert command is not None
    passed = set(re.findall(r"\b([A-Z][A-Za-z]+)=", command.group(1)))
    assert passed
    assert passed <= set(template["Parameters"])
    required = {k for k, v in template["Parameters"].items() if "Default" not in v}
    assert required <= passed


def test_the_dashboard_is_valid_json_and_plots_metrics_the_code_emits():
    body = load_template()["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    dashboard = json.loads(re.sub(r"\$\{[^}]+\}", "X", body))
    ours = {
        row[1]
        for widget in dashboard["widgets"]
        for row in widget["properties"]["metrics"]
        if row[0] == "EcsAutodeploy"
    }
    ours |= {
        row[1]
        for widget in dashboard["widgets"]
        for row in widget["properties"]["metrics"]
        if row[0] == "." and row[1] not in ("Throttles",)
    }
    assert ours
    for metric in ours:
        assert f'"{metric}"' in CODE, f"the dashboard plots {metric}, which no code emits"


def test_every_function_is_python313_on_arm64_with_the_layer():
    template = load_template()
    globals_ = template["Globals"]["Function"]
    assert (globals_["Runtime"], globals_["Architectures"]) == ("python3.13", ["arm64"])
    functions = {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    assert set(functions) == {
        "DeployFunction",
        "RolloutWorkerFunction",
        "TrackFunction",
        "ReconcileFunction",
        "ReviewFunction",
        "ReleaseFunction",
    }
    for function in functions.values():
        assert function["Metadata"]["BuildMethod"] == "makefile"
        assert Path(ROOT / function["Properties"]["CodeUri"] / "Makefile").is_file()


@pytest.mark.parametrize(
    ("alarm", "function"),
    [("ReleaseErrorsAlarm", "ReleaseFunction"), ("RolloutWorkerErrorsAlarm", "RolloutWorkerFunction")],
)
def test_the_release_and_worker_functions_have_errors_alarms_like_the_deployers(alarm, function):
    resources = load_template()["Resources"]
    mine, deploy = resources[alarm]["Properties"], resources["DeployErrorsAlarm"]["Properties"]
    assert mine["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
    same = ("Namespace", "MetricName", "Statistic", "Threshold", "ComparisonOperator", "AlarmActions")
    assert {k: mine[k] for k in same} == {k: deploy[k] for k in same}


def test_review_function_errors_alarm_next_to_the_deployers():
    resources = load_template()["Resources"]
    review, deploy = resources["ReviewErrorsAlarm"]["Properties"], resources["DeployErrorsAlarm"]["Properties"]
    assert review["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "ReviewFunction"}}]
    same = ("Namespace", "MetricName", "Statistic", "Threshold", "ComparisonOperator", "AlarmActions")
    assert {k: review[k] for k in same} == {k: deploy[k] for k in same}
