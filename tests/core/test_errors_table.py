"""Error builders: HTTP statuses, 200 envelopes and stream events all map through one table."""

from __future__ import annotations

import json
import pickle

import pytest

from modelslab_core import (
    APIError,
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ContextWindowExceededError,
    InsufficientCreditsError,
    InternalServerError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    ProcessingResponseError,
    RateLimitError,
    RequestTooLargeError,
    ServiceUnavailableError,
    StreamInterruptedError,
)
from modelslab_core.transport.errors import (
    error_from_payload,
    error_from_response,
    redact,
    request_id_from,
    safe_message,
)
from modelslab_core.transport.stream_attempt import StreamRun

STATUS_ROWS = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (402, InsufficientCreditsError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (409, ConflictError),
    (413, RequestTooLargeError),
    (422, BadRequestError),
    (429, RateLimitError),
    (500, InternalServerError),
    (502, ServiceUnavailableError),
    (503, ServiceUnavailableError),
    (504, ServiceUnavailableError),
    (529, OverloadedError),
    (599, InternalServerError),
    (418, BadRequestError),
]


@pytest.mark.parametrize(("status", "cls"), STATUS_ROWS)
def test_status_rows_with_envelope_body(status: int, cls: type[APIError]) -> None:
    body = json.dumps({"status": "error", "message": "nope"}).encode()
    err = error_from_response(status, {"x-request-id": "req-1"}, body)
    assert type(err) is cls
    assert err.status_code == status
    assert err.message == "nope"
    assert err.request_id == "req-1"
    assert err.body == {"status": "error", "message": "nope"}


@pytest.mark.parametrize(("status", "cls"), STATUS_ROWS)
def test_status_rows_with_text_body(status: int, cls: type[APIError]) -> None:
    err = error_from_response(status, {}, b"<html>Bad Gateway</html>")
    assert type(err) is cls
    assert err.message == "<html>Bad Gateway</html>"
    empty = error_from_response(status, {}, b"")
    assert type(empty) is cls
    assert str(status) in empty.message


def test_openai_error_body() -> None:
    body = {"error": {"message": "Invalid API key", "type": "invalid_api_key", "code": "401"}}
    err = error_from_response(401, {"request-id": "r9"}, body)
    assert isinstance(err, AuthenticationError)
    assert err.message == "Invalid API key"
    assert err.error_type == "invalid_api_key"
    assert err.request_id == "r9"


def test_openai_context_length_code_refines_bad_request() -> None:
    body = {
        "error": {
            "message": "too long",
            "type": "invalid_request_error",
            "code": "context_length_exceeded",
        }
    }
    err = error_from_response(400, {}, body)
    assert type(err) is ContextWindowExceededError


def test_context_overflow_by_message() -> None:
    body = {"status": "error", "message": "This model's maximum context length is 8192 tokens"}
    assert type(error_from_response(400, {}, body)) is ContextWindowExceededError
    assert type(error_from_payload(body, status=200)) is ContextWindowExceededError


def test_rate_limit_retry_after_from_body_and_headers() -> None:
    body = {"status": "error", "message": "Rate limit exceeded...", "retry_after": 30}
    err = error_from_response(429, {}, body)
    assert isinstance(err, RateLimitError)
    assert err.retry_after == 30.0
    err = error_from_response(429, {"Retry-After": "4"}, b"")
    assert err.retry_after == 4.0
    err = error_from_response(503, {"retry-after-ms": "250"}, b"{}")
    assert err.retry_after == 0.25


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"status": "error", "message": "Provider returned error"}, "Provider returned error"),
        ({"status": "failed", "messege": "legacy spelling"}, "legacy spelling"),
        ({"status": "error", "error": {"message": "nested"}}, "nested"),
        ({"status": "error", "error": "plain string"}, "plain string"),
        ({"status": "ERROR", "message": {"prompt": ["required"]}}, '{"prompt": ["required"]}'),
        ({"status": "error"}, "ModelsLab reported an error"),
    ],
)
def test_200_envelopes(payload: dict[str, object], message: str) -> None:
    err = error_from_payload(payload, status=200)
    assert err is not None
    assert isinstance(err, APIStatusError)
    assert err.message == message
    assert err.status_code == 200


def test_envelope_rate_limit_message_maps_to_rate_limit() -> None:
    err = error_from_payload(
        {"status": "error", "message": "Rate limit exceeded", "retry_after": 2}
    )
    assert isinstance(err, RateLimitError)
    assert err.retry_after == 2.0


@pytest.mark.parametrize(
    "payload",
    [
        {"status": "success", "id": "x", "choices": []},
        {"id": "gen-1", "object": "chat.completion", "choices": [], "error": None},
        {"type": "message", "content": []},
        {"object": "list", "data": []},
        {"input_tokens": 3},
    ],
)
def test_normal_answers_are_not_errors(payload: dict[str, object]) -> None:
    assert error_from_payload(payload) is None


@pytest.mark.parametrize(
    ("error_type", "cls"),
    [
        ("overloaded_error", OverloadedError),
        ("rate_limit_error", RateLimitError),
        ("api_error", InternalServerError),
        ("invalid_request_error", BadRequestError),
        ("authentication_error", AuthenticationError),
        ("permission_error", PermissionDeniedError),
        ("not_found_error", NotFoundError),
        ("request_too_large", RequestTooLargeError),
        ("something_new", APIStatusError),
    ],
)
def test_anthropic_stream_error_events(error_type: str, cls: type[APIError]) -> None:
    event = {"type": "error", "error": {"type": error_type, "message": "boom"}}
    err = error_from_payload(event, request_id="req-7")
    assert type(err) is cls
    assert err is not None
    assert err.error_type == error_type
    assert err.request_id == "req-7"
    assert err.status_code is None


def test_openai_mid_stream_error_chunk() -> None:
    chunk = {"id": "gen-1", "error": {"message": "upstream died", "type": "server_error"}}
    err = error_from_payload(chunk)
    assert isinstance(err, InternalServerError)
    assert err.request_id == "gen-1"


def test_processing_envelope_names_the_id() -> None:
    payload = {"status": "processing", "eta": 12, "fetch_result": "https://x/y", "id": 4242}
    err = error_from_payload(payload, status=200)
    assert isinstance(err, ProcessingResponseError)
    assert err.processing_id == "4242"
    assert "4242" in str(err)


def test_request_id_sources() -> None:
    assert request_id_from({"X-Request-Id": "a"}, {"id": "b"}) == "a"
    assert request_id_from({}, {"id": "b"}) == "b"
    assert request_id_from(None, None) is None


def test_key_is_redacted_from_message_and_body() -> None:
    key = "sk-secret-123"
    body = {"status": "error", "message": f"Invalid key {key}", "echo": [key, {"k": key}]}
    err = error_from_response(401, {}, json.dumps(body).encode(), secret=key)
    assert key not in str(err)
    assert key not in repr(err.body)
    assert key not in repr(pickle.loads(pickle.dumps(err)).body)
    assert redact({"a": [key]}, key) == {"a": ["***"]}
    assert redact("x", None) == "x"
    assert key not in error_from_response(500, {}, f"boom {key}".encode(), secret=key).message


def test_safe_message_never_raises_and_truncates() -> None:
    assert safe_message(object()).startswith('"<object')
    assert len(safe_message("x" * 5000)) < 1100
    assert safe_message(b"bytes") == "bytes"


# ----------------------------------------------------------------------------- stream reducer


def _run(*chunks: bytes, done_on: str | None = None) -> tuple[list[str], StreamRun[str]]:
    def handler(event: str | None, data: dict[str, object]) -> tuple[list[str], bool]:
        return [f"{event}:{data.get('n')}"], event is not None and event == done_on

    run: StreamRun[str] = StreamRun(handler, "sk-secret")
    out: list[str] = []
    for chunk in chunks:
        out.extend(run.feed(chunk))
    out.extend(run.finish())
    return out, run


def test_stream_run_stops_at_done_and_ignores_the_rest() -> None:
    out, run = _run(b'data: {"n": 1}\n\ndata: [DONE]\n\ndata: {"n": 2}\n\n')
    assert out == ["None:1"] and run.done and run.failure is None


def test_stream_run_dialect_terminator() -> None:
    out, run = _run(
        b'event: a\ndata: {"n": 1}\n\nevent: message_stop\ndata: {"n": 2}\n\n',
        done_on="message_stop",
    )
    assert out == ["a:1", "message_stop:2"] and run.done and run.failure is None


def test_stream_run_cut_mid_event_is_interrupted() -> None:
    out, run = _run(b'data: {"n": 1}\n\ndata: {"n": ')
    assert out == ["None:1"]
    assert run.failure is not None and type(run.failure.error) is StreamInterruptedError
    assert run.failure.retryable


def test_stream_run_malformed_event_is_validation_error() -> None:
    _, run = _run(b"data: {not json\n\n")
    assert run.failure is not None
    assert type(run.failure.error) is APIResponseValidationError
    assert not run.failure.retryable


def test_stream_run_error_event_without_known_shape() -> None:
    _, run = _run(b'event: error\ndata: {"detail": "sk-secret broke"}\n\n')
    assert run.failure is not None and type(run.failure.error) is APIStatusError
    assert "sk-secret" not in str(run.failure.error)


def test_stream_run_error_envelope_with_retry_after_is_retryable() -> None:
    _, run = _run(b'data: {"status": "error", "message": "busy", "retry_after": 1}\n\n')
    assert run.failure is not None and run.failure.retryable
    assert isinstance(run.failure.error, APIStatusError)
