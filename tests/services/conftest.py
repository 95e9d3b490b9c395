"""Fixtures for the service tests: the emulated `network` of the end-to-end tests, reused."""

from __future__ import annotations

from tests.e2e.conftest import network  # noqa: F401 - re-exported as a fixture for tests/services

