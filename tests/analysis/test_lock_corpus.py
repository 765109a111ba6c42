"""Placeholder replaced below."""
KNOWN_DIFFERENCES: dict = {}
