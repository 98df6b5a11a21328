"""The Starlette application: public routes, admin routes, middleware and lifespan."""

from gephyr_core.server.app import create_app

__all__ = ["create_app"]
