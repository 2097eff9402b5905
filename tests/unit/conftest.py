"""Fixtures shared across unit test folders."""

from tests.unit.apiserver.conftest import admin_client, module_apiserver

__all__ = ["admin_client", "module_apiserver"]
