"""RolloutWorkerFunction: work messages from the rollout work queue (SQS) -> deploy each chunk of targets.

Powertools' batch utility reports each message that failed (ReportBatchItemFailures): SQS delivers
it again, and after the queue's maxReceiveCount moves it to the failure queue with its targets named.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from autodeploy import wiring
from autodeploy.deploy.dispatch import RolloutWork
from autodeploy.observability import logger, metrics, report_deployments, tracer

# A batch whose every message failed is reported as such too, not raised: the response is the contract.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def work_on(record: SQSRecord, lambda_context: LambdaContext) -> dict[str, Any]:
    """One message; an exception makes it a batch item failure (a malformed one too: it ends in the failure queue)."""
    work = RolloutWork.from_message(record.body)
    done = wiring.rollout_worker().work(work, lambda_context.get_remaining_time_in_millis)
    report_deployments(done.report)
    if done.resent:
        logger.info("targets sent again for lack of time", extra={"targets": done.resent})
        metrics.add_metric(name="WorkResent", unit=MetricUnit.Count, value=len(done.resent))
    return done.report.summary()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(event=event, record_handler=work_on, processor=processor, context=context)
    return {"batchItemFailures": list(response["batchItemFailures"])}
