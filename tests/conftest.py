"""Test-wide fixtures live in tests/fixtures/*; this file only registers them."""

pytest_plugins = [
    "tests.fixtures.nats",
    "tests.fixtures.db",
    "tests.fixtures.app",
    "tests.fixtures.fake_providers",
]
