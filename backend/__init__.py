"""The sample application's backend (only its database layer lives in this repository)."""
