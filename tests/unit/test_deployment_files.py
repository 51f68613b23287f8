"""compose.yaml and the Dockerfile agree with the code: roles, settings, probes, proxying.

No Docker engine runs here, so the deployment itself is proven by tests/scaleout (the same
processes, started directly); this checks the files that describe it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from runtime.cli import _worker_groups, build_parser
from tests.unit.test_settings_table import READ_ELSEWHERE, variables_read

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "api", "worker", "trainer")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def test_the_topology_is_the_one_documented(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"nats-1", "nats-2", "nats-3", "postgres", "qdrant", "proxy"} <= set(services)
    assert services["api"]["deploy"]["replicas"] == 2
    gpu = services["trainer"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["capabilities"] == ["gpu"]
    assert services["trainer"]["build"]["target"] == "trainer"
    for name in ("nats-1", "nats-2", "nats-3", "postgres", "qdrant", "proxy"):
        assert "test" in services[name]["healthcheck"], name
    # App services use the image's HEALTHCHECK (API, or a worker's probe port).
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "HEALTHCHECK" in dockerfile
    assert "LLMFORGE_HEALTH_PORT=8000" in dockerfile
    assert re.search(r"^FROM app AS trainer$", dockerfile, re.M)
    # The last stage is what a plain `docker build .` makes: the app, not the trainer.
    assert dockerfile.rstrip().splitlines()[-1].startswith("FROM app AS")


def test_worker_commands_name_real_consumer_groups(compose: dict[str, Any]) -> None:
    groups = {}
    for name in ("worker", "trainer"):
        command = compose["services"][name]["command"]
        assert command[:2] == ["llmforge", "worker"], command
        args = build_parser().parse_args(command[1:])
        groups[name] = _worker_groups(args.only, args.skip)
    assert groups["trainer"] == {"training"}
    assert groups["worker"] is not None
    assert "training" not in groups["worker"]
    assert "knowledge" in groups["worker"]


def test_every_variable_set_is_a_setting(compose: dict[str, Any]) -> None:
    known = variables_read() | READ_ELSEWHERE
    for name in APP_SERVICES:
        env = compose["services"][name].get("environment") or {}
        assert set(env) <= known, (name, set(env) - known)


def test_the_proxy_streams_and_every_node_is_routed(compose: dict[str, Any]) -> None:
    nginx = compose["configs"]["nginx"]["content"]
    # Compose interpolates `$`: nginx variables must be written `$$`.
    assert not re.search(r"(?<!\$)\$(?!\$)", nginx.replace("$$", ""))
    assert "proxy_buffering off;" in nginx
    assert "server api:8000 resolve;" in nginx
    nats = compose["configs"]["nats-cluster"]["content"]
    for node in ("nats-1", "nats-2", "nats-3"):
        assert f"nats-route://{node}:6222" in nats
    url = compose["x-app"]["environment"]["NATS_URL"]
    assert url.split(",") == [f"nats://nats-{i}:4222" for i in (1, 2, 3)]


def test_worker_group_options_refuse_unknown_groups_and_both_at_once() -> None:
    assert _worker_groups(None, None) is None
    assert _worker_groups("chat, knowledge", None) == {"chat", "knowledge"}
    with pytest.raises(ValueError, match="unknown consumer group"):
        _worker_groups("chat,nope", None)
    with pytest.raises(ValueError, match="unknown consumer group"):
        _worker_groups(None, "nope")
    with pytest.raises(ValueError, match="not both"):
        _worker_groups("chat", "training")
