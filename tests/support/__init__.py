"""Helpers shared by the test levels."""
