"""The conformance suite: check any implementation of the lifecycle API."""
