"""The scaling reviewer: pure models and rules next to the native step-scaling policy."""
