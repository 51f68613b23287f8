"""Browser tests: the real platform (``llmforge up`` in a subprocess serving web/dist) with a
fake OpenAI-compatible provider, driven by Playwright through Debian's headless Chromium.

Fixtures:
- ``web_platform`` (session): the running platform. ``.base_url``, ``.admin_email``,
  ``.admin_password``, ``.api`` (an ``httpx.Client`` logged in as the admin, for seeding),
  ``.models`` (alias → model config id: ``fake-chat`` and ``fake-reasoner``; both stream
  reasoning then an answer), ``.fake`` (the ``FakeOpenAI`` server: set ``.scenario`` or
  ``.enqueue(...)`` from the test thread is safe between requests), ``.data_dir``, ``.env``.
- ``start_platform`` (session): ``start_platform(**env) -> RunningPlatform`` for a variant
  (say a short access-token TTL); stopped at the end of the session.
- ``logged_in_page``: a Playwright ``page`` logged in as the admin through the login form.
- ``shoot``: ``shoot(page, "chat")`` saves ``test-output/screenshots/chat.png``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.fakes import FakeOpenAI
from tests.fakes.base import Scenario

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-output" / "screenshots"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "browser-admin-password"
FAKE_KEY = "sk-browser-test-key"
READY_WITHIN = 180.0
# The answer every fake model streams, slowly enough that a test sees it arrive.
REASONING = ["The user ", "greets me; ", "I should ", "greet back."]
ANSWER = ["Hello", "!", " I am", " a **fake**", " model", "."]


def _is_browser_test(item: pytest.Item) -> bool:
    return "tests/browser/" in str(item.fspath)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # (tests/conftest.py puts the browser tests last.)
    if CHROMIUM.exists():
        return
    # CI installs Chromium (.ci/run) and sets CI: there a missing browser is a failure.
    if os.environ.get("CI"):
        raise pytest.UsageError(f"{CHROMIUM} is missing: apt-get install -y chromium")
    skip = pytest.mark.skip(reason=f"{CHROMIUM} not installed (apt-get install -y chromium)")
    for item in items:
        if _is_browser_test(item):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1440, "height": 900}, "locale": "en-US"}


def build_web() -> Path:
    """web/dist, rebuilt first when a source is newer (web/build.sh decides)."""
    subprocess.run(["bash", str(ROOT / "web" / "build.sh")], check=True)
    return ROOT / "web" / "dist"


class FakeLlmThread:
    """The fake provider on its own event loop in a thread (Playwright's sync API owns
    the test thread, so nothing async may run there)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.fake = FakeOpenAI(api_key=FAKE_KEY)
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.__aenter__(), self.loop).result(30)
        self.fake.scenario = Scenario(
            tokens=list(ANSWER),
            reasoning=list(REASONING),
            token_delay=0.05,
            models=["model-a", "model-b"],
            embedding_dim=8,
        )
        return self.fake

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(
                self.fake.__aexit__(None, None, None), self.loop
            ).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningPlatform:
    base_url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    admin_email: str = ADMIN_EMAIL
    admin_password: str = ADMIN_PASSWORD
    models: dict[str, str] = field(default_factory=dict)
    api: httpx.Client = field(default_factory=httpx.Client)
    fake: FakeOpenAI | None = None

    def stop(self) -> None:
        self.api.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _llmforge() -> list[str]:
    return [sys.executable, "-m", "runtime.cli"]


def launch(root: Path, web_dir: Path, **extra_env: str) -> RunningPlatform:
    """Start ``llmforge up`` on a free port with its own data directory; wait until ready."""
    data_dir = root / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "LLMFORGE_DATA_DIR": str(data_dir),
        "LLMFORGE_HOST": "127.0.0.1",
        "LLMFORGE_PORT": str(port),
        "LLMFORGE_WEB_DIR": str(web_dir),
        "LLMFORGE_SECRET_KEY": "browser-tests-secret-0123456789abcdef0123456789",
        "LLMFORGE_COOKIE_SECURE": "false",
        "LLMFORGE_ARGON2_TIME_COST": "1",
        "LLMFORGE_ARGON2_MEMORY_KIB": "1024",
        "LLMFORGE_ARGON2_PARALLELISM": "1",
        "LLMFORGE_LOGIN_RATE_LIMIT": "1000",
        "LLMFORGE_WEBHOOKS_ALLOW_PRIVATE": "true",
        "LLMFORGE_LOG_FORMAT": "json",
        "HF_HUB_OFFLINE": "1",
        **extra_env,
    }
    env.pop("DATABASE_URL", None)
    env.pop("NATS_URL", None)
    env.pop("QDRANT_URL", None)
    log_path = root / "platform.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [*_llmforge(), "up"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
    )
    running = RunningPlatform(
        base_url=f"http://127.0.0.1:{port}",
        data_dir=data_dir,
        env=env,
        process=process,
        log_path=log_path,
    )
    deadline = time.monotonic() + READY_WITHIN
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"llmforge up exited with {process.returncode}:\n{running.log_tail()}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{running.base_url}/health/ready", timeout=2).status_code == 200:
                break
        if time.monotonic() > deadline:
            running.stop()
            raise RuntimeError(f"llmforge up not ready in {READY_WITHIN} s:\n{running.log_tail()}")
        time.sleep(0.25)
    subprocess.run(
        [
            *_llmforge(),
            "user",
            "create",
            "--email",
            ADMIN_EMAIL,
            "--password",
            ADMIN_PASSWORD,
            "--admin",
        ],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    login = httpx.post(
        f"{running.base_url}/api/auth/login",
        json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
    )
    login.raise_for_status()
    running.api = httpx.Client(
        base_url=running.base_url,
        headers={"authorization": f"Bearer {login.json()['access_token']}"},
        timeout=30,
    )
    return running


def seed_models(running: RunningPlatform, fake: FakeOpenAI) -> None:
    provider = running.api.post(
        "/api/providers",
        json={
            "name": "Fake OpenAI",
            "type": "openai-compatible",
            "base_url": fake.base_url,
            "api_key": FAKE_KEY,
        },
    )
    provider.raise_for_status()
    provider_id = provider.json()["id"]
    for alias, upstream, name in (
        ("fake-chat", "model-a", "Fake Chat"),
        ("fake-reasoner", "model-b", "Fake Reasoner"),
    ):
        created = running.api.post(
            "/api/models",
            json={
                "provider_id": provider_id,
                "model_id": upstream,
                "alias": alias,
                "name": name,
                "input_price_per_mtok": 1.0,
                "output_price_per_mtok": 2.0,
            },
        )
        created.raise_for_status()
        running.models[alias] = created.json()["id"]
    running.fake = fake


@pytest.fixture(scope="session")
def web_dist() -> Path:
    return build_web()


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeOpenAI]:
    with FakeLlmThread() as fake:
        yield fake


@pytest.fixture(scope="session")
def start_platform(
    tmp_path_factory: pytest.TempPathFactory, web_dist: Path, fake_llm: FakeOpenAI
) -> Iterator[Callable[..., RunningPlatform]]:
    started: list[RunningPlatform] = []

    def start(**env: str) -> RunningPlatform:
        running = launch(tmp_path_factory.mktemp("platform"), web_dist, **env)
        started.append(running)
        seed_models(running, fake_llm)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture(scope="session")
def web_platform(start_platform: Callable[..., RunningPlatform]) -> RunningPlatform:
    return start_platform()


def login_through_form(
    page: Page, running: RunningPlatform, email: str | None = None, password: str | None = None
) -> None:
    page.goto(f"{running.base_url}/login")
    page.get_by_test_id("email").fill(email or running.admin_email)
    page.get_by_test_id("password").fill(password or running.admin_password)
    page.get_by_test_id("submit").click()
    expect(page).not_to_have_url(f"{running.base_url}/login")


@pytest.fixture
def logged_in_page(page: Page, web_platform: RunningPlatform) -> Page:
    page.set_default_timeout(15_000)
    expect.set_options(timeout=15_000)
    login_through_form(page, web_platform)
    return page


@pytest.fixture(scope="session")
def shoot() -> Callable[[Page, str], Path]:
    # Screenshots of an earlier run must not pass for this run's.
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page: Page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=False)
        return path

    return save
