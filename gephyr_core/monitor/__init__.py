"""Observability: request logs and token statistics written off the request path (Rule 4)."""
