"""Test-wide fixtures live in tests/fixtures/*; this file registers them, marks the slow
modules, and tells pytest-xdist which tests must share a worker (the README's test command
runs one worker per core)."""

from __future__ import annotations

from typing import Any

import pytest

pytest_plugins = [
    "tests.fixtures.nats",
    "tests.fixtures.db",
    "tests.fixtures.app",
    "tests.fixtures.fake_providers",
]

# Tests that train models or run whole deployments, each using every core for minutes
# (`-m "not slow"` skips them). Two at once would each take twice as long and miss their
# deadlines, so they queue on one worker.
SLOW = (
    "tests/integration/test_training_e2e.py",
    "tests/integration/test_closed_loop.py",
    "tests/scaleout/",
    "tests/browser/test_training.py",
)
# Browser tests share one running platform and one browser, and must come after every
# asyncio test of their process (tests/browser/conftest.py sorts them last).
BROWSER = "tests/browser/"


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_itemcollected(item: pytest.Item) -> None:
    if _module(item.nodeid).startswith(SLOW):
        item.add_marker(pytest.mark.slow)


def _rank(item: pytest.Item) -> int:
    module = _module(item.nodeid)
    if module.startswith(BROWSER):
        return 2
    return 0 if module.startswith(SLOW) else 1


@pytest.hookimpl(trylast=True)  # after any plugin's own reordering (pytest-asyncio's)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Slow tests first: the longest unit of work starts at once, beside everything else.
    # Browser tests last: Playwright's sync API keeps an event loop running in the main
    # thread from its first use to the end of the session, after which no asyncio test
    # could run in that process (their session fixtures are then torn down first).
    items.sort(key=_rank)


HEAVY = "heavy"


def worker_group(nodeid: str) -> str:
    """The unit of scheduling a test belongs to: the heavy group or the test alone.

    The slow tests and the browser tests (which train a model too) share one worker, so no
    two of them ever compete for the cores; the other worker takes everything else.
    """
    if _module(nodeid).startswith((*SLOW, BROWSER)):
        return HEAVY
    return nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    # xdist's own "loadgroup" reads xdist_group marks by rewriting node ids, which pytest
    # 9.2 no longer allows; the same scheduling, grouped by path instead.
    from xdist.scheduler import LoadScopeScheduling

    # Hand out the units in collection order (above), not largest first: the browser
    # group must be the last one any worker is given.
    config.option.loadscopereorder = False

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_group(nodeid)

        def _reschedule(self, node: Any) -> None:
            # The heavy group ends with the browser tests: nothing may follow them in that
            # process, so its worker takes no other unit.
            work = self.assigned_work.get(node, {})
            if self.workqueue and HEAVY in work:
                if not self._pending_of(work) and not node.shutting_down:
                    node.shutdown()  # done; the rest belongs to the other workers
                return
            super()._reschedule(node)

    return GroupScheduling(config, log)
