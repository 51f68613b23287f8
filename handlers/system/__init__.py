"""System routes: health probes, the event contract and the Prometheus metrics."""

from handlers.system.controller import SystemController
from handlers.system.metrics import metrics

__all__ = ["SystemController", "metrics"]
