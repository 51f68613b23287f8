"""The event bus: NATS connection, stream provisioning, publishing and the function host."""

from runtime.bus.bindings import Binding, plan_bindings
from runtime.bus.broadcast import Broadcast
from runtime.bus.connection import EventBus, Readiness
from runtime.bus.consumer import BOOKKEEPING_LINGER, BatchHandler, Consumer, EventHandler
from runtime.bus.errors import BusError, BusUnavailable, PublishRejected
from runtime.bus.fanout import Delivery, FanOut
from runtime.bus.host import FunctionHost
from runtime.bus.policy import Action, Decision, PermanentError, RetryPolicy
from runtime.bus.streams import ProvisionAction, ProvisionResult, stream_config

__all__ = [
    "BOOKKEEPING_LINGER",
    "Action",
    "BatchHandler",
    "Binding",
    "Broadcast",
    "BusError",
    "BusUnavailable",
    "Consumer",
    "Decision",
    "Delivery",
    "EventBus",
    "EventHandler",
    "FanOut",
    "FunctionHost",
    "PermanentError",
    "ProvisionAction",
    "ProvisionResult",
    "PublishRejected",
    "Readiness",
    "RetryPolicy",
    "plan_bindings",
    "stream_config",
]
