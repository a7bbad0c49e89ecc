"""ecs-autodeploy: push-to-deploy and scaling insight for Amazon ECS.

Imports go one way: handlers -> use cases (``deploy``) -> domain (pure) -> adapters (boto3).
"""

__version__ = "0.1.0"
