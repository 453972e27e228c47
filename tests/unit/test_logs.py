"""Log lines: the JSON formatter's fields, the request's bound fields, and LOG_FORMAT.

``configure`` changes the process's root logger, so what it does is checked in
a fresh interpreter set up as func-python sets one up (``logging.basicConfig``,
then hypercorn's own error logger once the server runs).
"""

from __future__ import annotations

import contextvars
import io
import json
import logging
import re
import subprocess
import sys
from collections.abc import Callable

import pytest
from kserve_functions.config import ConfigError, Settings, log_format
from kserve_functions.telemetry import logs, trace
from kserve_functions.telemetry.json_format import KnativeJsonFormatter

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
RFC3339_UTC_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture(autouse=True)
def fields_written(monkeypatch: pytest.MonkeyPatch) -> None:
    # As configure() leaves it in JSON mode: these tests write JSON lines.
    monkeypatch.setattr(logs, "FIELDS_WRITTEN", True)


def _written(
    emit: Callable[[logging.Logger], object], *, bound: dict[str, object] | None = None
) -> list[str]:
    """The lines a JSON-formatting handler writes while
    ``emit(logger)`` logs, with ``bound`` fields and a trace context set."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(KnativeJsonFormatter())
    logger = logging.getLogger("test_logs.private")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)

    def run() -> None:
        trace.CURRENT.set(trace.continued(TRACEPARENT))
        logs.bind(**(bound or {}))
        emit(logger)

    try:
        contextvars.copy_context().run(run)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue().splitlines()


def test_a_line_is_one_json_object_with_knatives_leading_fields() -> None:
    def emit(logger: logging.Logger) -> None:
        logger.warning("model %s/%s ready", "ns", "iris")

    lines = _written(emit)

    assert len(lines) == 1
    record = json.loads(lines[0])
    assert list(record)[:5] == ["timestamp", "severity", "logger", "caller", "message"]
    assert RFC3339_UTC_MS.fullmatch(record["timestamp"]), record["timestamp"]
    assert record["severity"] == "WARNING"
    assert record["logger"] == "test_logs.private"
    assert record["caller"] == f"test_logs.py:{emit.__code__.co_firstlineno + 1}"
    assert record["message"] == "model ns/iris ready"


def test_the_bound_fields_and_the_trace_are_on_every_line() -> None:
    def emit(logger: logging.Logger) -> None:
        logger.info("one")
        logger.debug("two")

    lines = _written(emit, bound={"request_id": "abc", "model": "iris", "ignored": None})

    records = [json.loads(line) for line in lines]
    assert [r["message"] for r in records] == ["one", "two"]
    for record in records:
        assert record["request_id"] == "abc"
        assert record["model"] == "iris"
        assert record["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
        assert re.fullmatch("[0-9a-f]{16}", record["span_id"])
        assert record["span_id"] != "b7ad6b7169203331", "this function's span, not the caller's"
        assert "ignored" not in record


def test_a_calls_extra_fields_are_written_and_win_over_bound_ones() -> None:
    lines = _written(
        lambda logger: logger.info("GET", extra={"http_route": "/models", "model": "other"}),
        bound={"model": "iris"},
    )

    record = json.loads(lines[0])
    assert record["http_route"] == "/models"
    assert record["model"] == "other"


def test_extra_fields_follow_in_the_calls_order_and_private_ones_are_left_out() -> None:
    extra = {"zeta": 1, "_private": "hidden", "alpha": [1, 2], "duration_ms": 0.5}

    [line] = _written(lambda logger: logger.info("GET", extra=extra))

    record = json.loads(line)
    assert list(record)[5:8] == ["zeta", "alpha", "duration_ms"]
    assert "_private" not in record
    assert record["alpha"] == [1, 2]


def test_a_dict_message_is_its_fields() -> None:
    [line] = _written(lambda logger: logger.info({"event": "rolled", "models": 3}))

    record = json.loads(line)
    assert (record["message"], record["event"], record["models"]) == ("", "rolled", 3)


def test_an_exception_is_its_stacktrace_on_the_same_line() -> None:
    def emit(logger: logging.Logger) -> None:
        try:
            raise ValueError("boom")  # noqa: TRY301 - the exception logged
        except ValueError:
            logger.exception("it failed")

    lines = _written(emit)

    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["severity"] == "ERROR"
    assert "ValueError: boom" in record["stacktrace"]
    assert "Traceback" in record["stacktrace"]


def test_outside_a_request_a_line_has_no_request_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(KnativeJsonFormatter())
    record = logging.LogRecord("x", logging.INFO, "/a/b/start.py", 7, "started", None, None)

    handler.handle(record)

    written = json.loads(stream.getvalue())
    assert written == {
        "timestamp": written["timestamp"],
        "severity": "INFO",
        "logger": "x",
        "caller": "start.py:7",
        "message": "started",
    }


def test_bind_adds_to_what_is_bound_and_unbind_undoes_it() -> None:
    def run() -> None:
        first = logs.bind(request_id="r1")
        logs.bind(event_id="e1", user=None)
        assert logs.FIELDS.get() == {"request_id": "r1", "event_id": "e1"}
        logs.unbind(first)
        assert logs.FIELDS.get() == {}

    contextvars.copy_context().run(run)


def test_in_text_mode_bind_binds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # No text line shows the fields: a request does not pay for them.
    monkeypatch.setattr(logs, "FIELDS_WRITTEN", False)

    def run() -> None:
        token = logs.bind(request_id="r1")
        assert token is None
        assert logs.FIELDS.get() == {}
        logs.unbind(token)

    contextvars.copy_context().run(run)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [({}, logs.LogFormat.TEXT), ({"LOG_FORMAT": "text"}, "text"), ({"LOG_FORMAT": "json"}, "json")],
)
def test_log_format_setting(environ: dict[str, str], expected: str) -> None:
    assert log_format(environ) == expected
    assert Settings.from_environment(environ).log_format == expected


@pytest.mark.parametrize("value", ["JSON", "logfmt", "", " json"])
def test_an_unknown_log_format_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_environment({"LOG_FORMAT": value})
    assert "LOG_FORMAT=" in str(caught.value)
    assert "text, json" in str(caught.value)


# Set up as func-python and hypercorn set a process up, then log through every path.
_PROCESS = """
import json, logging, sys, warnings
logging.basicConfig(level=logging.INFO)  # func_python.http does this at import
from kserve_functions.telemetry import logs
logs.configure(logs.LogFormat(sys.argv[1]))
# hypercorn builds its logger when it first logs, after the function's start:
# a text handler of its own on hypercorn.error, which propagates to root too.
import hypercorn.config, hypercorn.logging
server = hypercorn.logging.Logger(hypercorn.config.Config())
server.error_logger.info("Running on http://127.0.0.1:1")
logging.getLogger("kserve_functions").info("GET %r 200", "/models")
warnings.warn("deprecated", DeprecationWarning, stacklevel=1)
print(json.dumps(sorted(m for m in sys.modules if m.startswith("pythonjsonlogger"))), flush=True)
"""


def _process(log_format: str) -> tuple[list[str], list[str]]:
    """The stderr lines of that process, and the python-json-logger modules it loaded."""
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", _PROCESS, log_format],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stderr.splitlines(), json.loads(done.stdout)


def test_json_mode_writes_every_line_once_as_json() -> None:
    lines, loaded = _process("json")

    records = [json.loads(line) for line in lines]
    assert [(r["logger"], r["message"]) for r in records[:2]] == [
        ("hypercorn.error", "Running on http://127.0.0.1:1"),
        ("kserve_functions", "GET '/models' 200"),
    ]
    assert records[2]["logger"] == "py.warnings"
    assert "DeprecationWarning: deprecated" in records[2]["message"]
    assert len(records) == 3, "hypercorn's line once, not also through its own handler"
    assert loaded


def test_text_mode_is_todays_output_and_loads_no_json_formatter() -> None:
    lines, loaded = _process("text")

    # hypercorn's line twice (its own handler, then root's), as func-python serves today.
    assert lines[0].endswith("[INFO] Running on http://127.0.0.1:1")
    assert lines[1:3] == [
        "INFO:hypercorn.error:Running on http://127.0.0.1:1",
        "INFO:kserve_functions:GET '/models' 200",
    ]
    assert not any(line.startswith("{") for line in lines)
    assert loaded == []
