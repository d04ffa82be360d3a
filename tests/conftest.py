"""Test configuration: every test under tests/integration is marked `integration`; fixtures come from tests/support."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.support.kafka", "tests.support.databases", "tests.support.capture", "tests.support.registry"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
