"""An async client for the SmartAI Assessment platform, usable on its own."""

from __future__ import annotations

from ._client import SmartAIClient
from ._config import RetryPolicy, Timeout
from ._credentials import Credentials
from ._dedup import DedupStore, MemoryDedupStore, RedisDedupStore
from ._dispatch import PollReport
from ._errors import (
    SmartAIAuthError,
    SmartAIConnectionError,
    SmartAIError,
    SmartAIRateLimitError,
    SmartAIResponseError,
    SmartAIServerError,
    SmartAIStatusError,
    SmartAITimeoutError,
    SmartAIValidationError,
)
from ._models import AckResult, Assessment, Campaign, Event, EventBatch, InvalidEvent, SessionToken
from ._observe import PlatformCall
from ._poller import ResultsPoller
from ._supervisor import TenantPoller

__all__ = [
    "AckResult",
    "Assessment",
    "Campaign",
    "Credentials",
    "DedupStore",
    "Event",
    "EventBatch",
    "InvalidEvent",
    "MemoryDedupStore",
    "PlatformCall",
    "PollReport",
    "RedisDedupStore",
    "ResultsPoller",
    "RetryPolicy",
    "SessionToken",
    "SmartAIAuthError",
    "SmartAIClient",
    "SmartAIConnectionError",
    "SmartAIError",
    "SmartAIRateLimitError",
    "SmartAIResponseError",
    "SmartAIServerError",
    "SmartAIStatusError",
    "SmartAITimeoutError",
    "SmartAIValidationError",
    "TenantPoller",
    "Timeout",
]
