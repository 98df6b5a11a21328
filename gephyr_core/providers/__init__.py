"""Upstream provider kinds: defaults, auth headers, list-models and error classification."""

from gephyr_core.providers.catalog import PROVIDERS, auth_headers, list_models_url, parse_model_ids

__all__ = ["PROVIDERS", "auth_headers", "list_models_url", "parse_model_ids"]
