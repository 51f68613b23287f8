"""docs/architecture.md stays true: its event and route lists match the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, cast

from litestar.routes import HTTPRoute

from events import EVENT_TYPES
from runtime.app import create_app
from runtime.services import Services
from runtime.settings import Settings

DOC = Path(__file__).parents[2] / "docs" / "architecture.md"


def _section(name: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    body = text.split(f"<!-- {name}:start -->")[1].split(f"<!-- {name}:end -->")[0]
    return re.findall(r"^- `([^`]+)`", body, flags=re.MULTILINE)


def test_every_event_type_is_documented() -> None:
    documented = set(_section("events"))
    assert documented == {str(cls.__struct_config__.tag) for cls in EVENT_TYPES}


def test_every_route_is_documented() -> None:
    services = cast("Any", Services)(
        settings=Settings(), engine=None, session_factory=None, bus=None
    )
    app = create_app(services)
    served = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith("/schema"):
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        for method in route.methods - {"HEAD", "OPTIONS"}:
            served.add(f"{method} {path}")
    assert set(_section("routes")) == served
