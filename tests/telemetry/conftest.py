from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests._features import Sandbox, running_sandbox


@dataclass
class Exported:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader

    def points(self) -> dict[str, list[Any]]:
        """Metric name -> data points recorded since the last call."""
        found: dict[str, list[Any]] = {}
        data = self.metrics.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found


@pytest.fixture(scope="session")
def _otel_sdk() -> Exported:
    """The OpenTelemetry SDK with in-memory exporters, installed once as the global providers
    (OpenTelemetry allows setting them once per process)."""
    spans = InMemorySpanExporter()
    # Delta: each collection holds what happened since the one before (this test's own).
    reader = InMemoryMetricReader(preferred_temporality={
        Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA,
    })
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return Exported(spans, reader)


@pytest.fixture
def exported(_otel_sdk: Exported) -> Iterator[Exported]:
    _otel_sdk.spans.clear()
    _otel_sdk.metrics.get_metrics_data()  # start this test's deltas from what came before
    yield _otel_sdk
    _otel_sdk.spans.clear()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox() as running:
        yield running
