"""An async client for the SmartAI Assessment platform, usable on its own."""

from __future__ import annotations

from ._client import SmartAIClient
from ._config import RetryPolicy, Timeout
from ._credentials import Credentials
from ._dedup import DedupStore, MemoryDedupStore, RedisDedupStore
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
from ._models import AckResult, Assessment, Campaign, Event, EventBatch, SessionToken
from ._observe import PlatformCall
from ._poller import PollReport, ResultsPoller

__all__ = [
    "AckResult",
    "Assessment",
    "Campaign",
    "Credentials",
    "DedupStore",
    "Event",
    "EventBatch",
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
    "Timeout",
]
