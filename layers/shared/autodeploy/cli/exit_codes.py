"""The CLI's exit statuses, so scripts can tell a usage error from an AWS error from "nothing to do"."""

OK = 0
FAILED = 1  # the operation ran and did not succeed (a rollback that failed, a target that fails verify)
USAGE = 2  # a usage error: bad option or value, unknown target, stack or environment (argparse uses 2 too)
AWS_ERROR = 3  # AWS refused or failed the call (access denied, throttled past retries, unreachable)
NOTHING_TO_DO = 4  # understood, and there is nothing to do (not quarantined, no earlier image, nothing to draw)
STILL_WAITING = 5  # stopped waiting at --timeout: the rollback goes on
INTERRUPTED = 130  # Ctrl-C while waiting: the rollback goes on
CLOSED_PIPE = 141  # the reader of our output went away (128 + SIGPIPE, as other tools exit)
