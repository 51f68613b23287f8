"""Test-wide fixtures live in tests/fixtures/*; this file registers them and groups tests
for ``pytest -n 2 --dist loadgroup`` (the README's test command)."""

import pytest

pytest_plugins = [
    "tests.fixtures.nats",
    "tests.fixtures.db",
    "tests.fixtures.app",
    "tests.fixtures.fake_providers",
]


def pytest_itemcollected(item: pytest.Item) -> None:
    # Browser tests share one running platform and one browser: one worker runs them all,
    # after its other tests (they are collected last, see tests/browser/conftest.py).
    if "tests/browser/" in str(item.fspath):
        item.add_marker(pytest.mark.xdist_group("browser"))
    # The slow tests train models or run whole deployments, each using every core: two at
    # once would each take twice as long and miss their deadlines, so they queue on one.
    elif item.get_closest_marker("slow") is not None:
        item.add_marker(pytest.mark.xdist_group("slow"))
