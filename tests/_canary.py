"""The suite-wide leak check: no log record, anywhere, may carry a canary secret.

A handler on the root logger sees every record of every logger and thread (the servers the
tests run in threads included: ``tests/_servers.py`` makes uvicorn's and hypercorn's loggers
propagate), during setup, call and teardown, module and session teardown included. Each record
is scanned whole: the formatted message, ``args``, every ``extra=`` attribute, the traceback of
``exc_info`` (and ``exc_text``) and ``stack_info``. A phase during which a canary was logged
fails, naming the logger and the attribute but never the secret itself.

Loaded by ``tests/conftest.py`` (``pytest_plugins``); a pytester run can load it alone.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Generator, Iterable
from typing import Any

import pytest

from tests._fake import CANARIES

# Attributes every LogRecord has that a log call cannot fill with a secret of ours.
_PLAIN = frozenset({"levelname", "levelno", "pathname", "filename", "module", "lineno",
                    "funcName", "created", "msecs", "relativeCreated", "thread", "threadName",
                    "processName", "process", "taskName", "name"})


def _texts(record: logging.LogRecord) -> Iterable[tuple[str, str]]:
    """Every piece of text a handler could write for this record, by attribute."""
    try:
        yield "message", record.getMessage()
    except Exception:  # a bad format string: scan its parts instead
        yield "msg", str(record.msg)
    for name, value in vars(record).items():
        if name in _PLAIN or value is None:
            continue
        if name == "exc_info":
            if isinstance(value, tuple) and value[1] is not None:
                yield name, "".join(traceback.format_exception(*value))
            continue
        yield name, value if isinstance(value, str) else repr(value)


def leaks(record: logging.LogRecord, canaries: Iterable[str] = CANARIES) -> list[str]:
    """Where in ``record`` a canary appears, as "logger.attribute" (the canary left out)."""
    found = []
    for where, text in _texts(record):
        if any(canary in text for canary in canaries):
            found.append(f"{record.name}.{where}")
    return found


class CanaryHandler(logging.Handler):
    """Collects where canaries were logged; the hooks below turn them into failures."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self._found: list[str] = []
        self._lock_found = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        found = leaks(record)
        if found:
            with self._lock_found:
                self._found.extend(found)

    def take(self) -> list[str]:
        with self._lock_found:
            found, self._found = self._found, []
        return found


_HANDLER = CanaryHandler()


def pytest_configure(config: pytest.Config) -> None:
    root = logging.getLogger()
    root.addHandler(_HANDLER)
    # Between tests too: a record emitted outside a test phase is created and checked.
    root.setLevel(logging.DEBUG)


def pytest_unconfigure(config: pytest.Config) -> None:
    logging.getLogger().removeHandler(_HANDLER)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    found = _HANDLER.take()
    if found and report.outcome != "failed":
        report.outcome = "failed"
        report.longrepr = (
            f"a secret (canary) was logged during {call.when}: in {', '.join(sorted(set(found)))}"
        )
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    found = _HANDLER.take()
    if found:
        session.config.stash[_LATE] = found
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_LATE = pytest.StashKey[list[str]]()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    late = config.stash.get(_LATE, None)
    if late:
        terminalreporter.write_line(
            f"a secret (canary) was logged outside any test: in {', '.join(sorted(set(late)))}", red=True
        )


@pytest.fixture
def caplog(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """pytest's ``caplog``, except that a test raising the level of a logger only narrows what
    *it* sees in ``caplog.records``: the logger keeps creating DEBUG records, so the canary
    check above still sees them."""
    set_level, at_level = caplog.set_level, caplog.at_level

    def keep_debug(logger: str | None) -> None:
        target = logging.getLogger(logger)
        if target.level > logging.DEBUG:
            target.setLevel(logging.DEBUG)

    def guarded_set_level(level: int | str, logger: str | None = None) -> None:
        set_level(level, logger)
        keep_debug(logger)

    class _AtLevel:
        def __init__(self, level: int | str, logger: str | None = None) -> None:
            self._inner = at_level(level, logger)
            self._logger = logger

        def __enter__(self) -> None:
            self._inner.__enter__()
            keep_debug(self._logger)

        def __exit__(self, *exc: Any) -> None:
            self._inner.__exit__(*exc)

    caplog.set_level = guarded_set_level  # type: ignore[method-assign]
    caplog.at_level = _AtLevel  # type: ignore[method-assign, assignment]
    return caplog
