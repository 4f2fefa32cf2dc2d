"""The HTTP layer: Starlette routes over the store, validated against openapi.yaml."""

from app.api.app import create_app

__all__ = ["create_app"]
