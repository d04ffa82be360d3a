"""Test support shared by the test files: fixtures (loaded once, as pytest plugins, by tests/conftest.py) and
helpers."""
