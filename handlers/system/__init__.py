"""System routes: health probes and the event contract."""

from handlers.system.controller import SystemController

__all__ = ["SystemController"]
