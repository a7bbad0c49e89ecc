"""Release gates: each module answers, for one digest on one target, "open, or why not, and what reopens it".

Pure functions over models (no boto3): the adapters read scans, alarm history and approvals,
the deploy pipeline asks the gates and records a WAITING push with the gate that holds it.
"""

from autodeploy.gates.verdict import Gate, GateStatus, GateVerdict

__all__ = ["Gate", "GateStatus", "GateVerdict"]
