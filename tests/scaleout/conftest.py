"""One deployment for the whole package: starting four processes and a cluster is the cost.

Each test leaves it as it found it (every process it killed is running and ready again),
and uses its own users, so tests do not see each other's data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator

import pytest

from tests.fakes import FakeOpenAI
from tests.fakes.base import Scenario
from tests.scaleout.deployment import Deployment, deployment


@pytest.fixture(scope="package")
async def deployed(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Deployment]:
    async with deployment(tmp_path_factory.mktemp("scaleout")) as running:
        yield running


@pytest.fixture
async def upstream() -> AsyncIterator[FakeOpenAI]:
    """A fake OpenAI upstream; paced tokens keep each turn open about half a second."""
    async with FakeOpenAI() as fake:
        fake.scenario = Scenario(tokens=[f"t{i} " for i in range(12)], token_delay=0.04)
        yield fake


@pytest.fixture
async def healthy(deployed: Deployment) -> AsyncIterator[Deployment]:
    """The shared deployment, checked whole after the test (it restarts what it killed)."""
    yield deployed
    for process in deployed.supervisor.processes.values():
        await process.wait_ready(within=60)
    await deployed.cluster.wait_formed()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test's report carries the log tail of every process of the deployment."""
    report = yield
    d = getattr(item, "funcargs", {}).get("deployed") or getattr(item, "funcargs", {}).get(
        "healthy"
    )
    if report.failed and isinstance(d, Deployment):
        report.sections.append(("scale-out process logs", d.supervisor.logs(60)))
    return report
