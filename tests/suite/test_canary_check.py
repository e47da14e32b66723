"""The canary check itself (tests/_canary.py) fails a test that logs a secret, wherever in the
record the secret sits and whenever it is logged."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests._canary import leaks
from tests._fake import API_KEY, JWT_SECRET, SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]

INNER = f'''
import logging

import pytest

log = logging.getLogger("leaky")


def test_extra_field():
    log.debug("nothing to see", extra={{"detail": {{"key": {API_KEY!r}}}}})


def test_args():
    log.info("calling with %s", {SECRET_KEY!r})


def test_traceback():
    try:
        raise ValueError({JWT_SECRET!r})
    except ValueError:
        log.exception("failed")


def test_a_raised_level_hides_nothing(caplog):
    caplog.set_level(logging.ERROR, logger="leaky")
    log.debug("quiet %s", {API_KEY!r})
    assert caplog.records == []  # what the test asked for; the check still saw the record


def test_a_server_thread():
    import threading
    thread = threading.Thread(target=lambda: logging.getLogger("uvicorn.error").warning(
        "bad request", extra={{"raw": {API_KEY!r}.encode()}}))
    thread.start()
    thread.join()


@pytest.fixture
def noisy_teardown():
    yield
    log.debug("closing", extra={{"token": {SECRET_KEY!r}}})


def test_teardown(noisy_teardown):
    pass


def test_clean():
    log.debug("all fine", extra={{"detail": "nothing secret"}})
'''


def test_a_canary_anywhere_in_a_record_fails_the_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest('pytest_plugins = ["tests._canary"]')
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-o", "log_level=DEBUG",
                                         "--show-capture=no")
    result.assert_outcomes(passed=2, failed=5, errors=1)
    result.stdout.fnmatch_lines_random([
        "*logged during call: in leaky.detail*",
        "*logged during call: in leaky.args, leaky.message*",
        "*logged during call: in leaky.exc_info*",
        "*logged during call: in leaky.args, leaky.message*",
        "*logged during call: in uvicorn.error.raw*",
        "*logged during teardown: in leaky.token*",
    ])
    output = result.stdout.str() + result.stderr.str()
    for canary in (API_KEY, SECRET_KEY, JWT_SECRET):
        assert canary not in output


def test_leaks_names_the_attribute_never_the_value() -> None:
    record = logging.LogRecord("x", logging.DEBUG, __file__, 1, "plain", None, None)
    assert leaks(record) == []
    record.custom = [f"prefix {API_KEY}"]
    assert leaks(record) == ["x.custom"]
