"""Deploying an image push: the use case (use_case.py) and its steps, one module each."""

from autodeploy.deploy.outcome import DeployOptions, DeployReport, Recorded
from autodeploy.deploy.use_case import DeployOnPush

__all__ = ["DeployOnPush", "DeployOptions", "DeployReport", "Recorded"]
