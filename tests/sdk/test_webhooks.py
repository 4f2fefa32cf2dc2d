"""The receiver-side verifier: the Standard Webhooks test vector, interop with the official
library in both directions, rotation, tampering, time tolerance and header handling."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import standardwebhooks.webhooks as official

from cronhook import (
    CronhookError,
    InvalidSignatureError,
    MalformedHeaderError,
    MissingHeaderError,
    TimestampOutOfToleranceError,
    VerifiedWebhook,
    Webhook,
    WebhookVerificationError,
)

# The fixed vector carried by the Standard Webhooks reference libraries' tests.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_PAYLOAD = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

OLD_SECRET = "whsec_" + base64.b64encode(b"old-secret-key-0123456789abcdef!").decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"new-secret-key-0123456789abcdef!").decode()
BODY = b'{"job": "nightly-report", "n": 1}'


def signed_headers(
    secrets: list[str], *, msg_id: str = "fire_1", ts: int | None = None, body: bytes = BODY
) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    signature = " ".join(Webhook(s).sign(msg_id, ts, body) for s in secrets)
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}


def vector_headers() -> dict[str, str]:
    return {
        "webhook-id": VECTOR_MSG_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }


# --- the test vector -------------------------------------------------------------------


@pytest.mark.parametrize("secret", [VECTOR_SECRET, VECTOR_SECRET.removeprefix("whsec_")])
def test_sign_reproduces_the_standard_webhooks_vector(secret: str) -> None:
    assert Webhook(secret).sign(VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_PAYLOAD) == (
        VECTOR_SIGNATURE
    )


def test_verify_accepts_the_vector_at_its_own_time() -> None:
    wh = Webhook(VECTOR_SECRET, clock=lambda: VECTOR_TIMESTAMP)

    event = wh.verify(VECTOR_PAYLOAD, vector_headers())

    assert event == VerifiedWebhook(
        id=VECTOR_MSG_ID,
        timestamp=datetime.fromtimestamp(VECTOR_TIMESTAMP, UTC),
        body=VECTOR_PAYLOAD,
    )
    assert event.timestamp.tzinfo is not None
    assert event.json() == {"test": 2432232314}


def test_verify_rejects_the_vector_with_last_character_changed() -> None:
    wh = Webhook(VECTOR_SECRET, clock=lambda: VECTOR_TIMESTAMP)
    headers = vector_headers() | {"webhook-signature": VECTOR_SIGNATURE[:-2] + "A="}

    with pytest.raises(InvalidSignatureError):
        wh.verify(VECTOR_PAYLOAD, headers)


def test_verify_rejects_the_vector_today_as_too_old() -> None:
    with pytest.raises(TimestampOutOfToleranceError, match="too old"):
        Webhook(VECTOR_SECRET).verify(VECTOR_PAYLOAD, vector_headers())


# --- interop with the official standardwebhooks package -----------------------------------


def test_official_library_verifies_what_we_sign() -> None:
    headers = signed_headers([NEW_SECRET])

    assert official.Webhook(NEW_SECRET).verify(BODY, headers) == {"job": "nightly-report", "n": 1}


def test_official_library_verifies_our_rotation_header_with_either_secret() -> None:
    headers = signed_headers([OLD_SECRET, NEW_SECRET])

    for secret in (OLD_SECRET, NEW_SECRET):
        assert official.Webhook(secret).verify(BODY, headers)["n"] == 1


def test_we_verify_what_the_official_library_signs() -> None:
    now = datetime.now(UTC)
    signature = official.Webhook(NEW_SECRET).sign("msg_2", now, BODY.decode())
    headers = {
        "webhook-id": "msg_2",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }

    event = Webhook(NEW_SECRET).verify(BODY, headers)

    assert (event.id, event.body) == ("msg_2", BODY)


def test_official_library_signs_the_vector_like_we_do() -> None:
    when = datetime.fromtimestamp(VECTOR_TIMESTAMP, UTC)
    theirs = official.Webhook(VECTOR_SECRET).sign(VECTOR_MSG_ID, when, VECTOR_PAYLOAD.decode())

    assert theirs == Webhook(VECTOR_SECRET).sign(VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_PAYLOAD)


# --- rotation ------------------------------------------------------------------------------


@pytest.mark.parametrize("receiver_secret", [OLD_SECRET, NEW_SECRET])
def test_two_signatures_verify_with_either_secret(receiver_secret: str) -> None:
    headers = signed_headers([OLD_SECRET, NEW_SECRET])

    assert Webhook(receiver_secret).verify(BODY, headers).id == "fire_1"


@pytest.mark.parametrize("sender_secret", [OLD_SECRET, NEW_SECRET])
def test_receiver_holding_both_secrets_accepts_either_signature(sender_secret: str) -> None:
    headers = signed_headers([sender_secret])

    assert Webhook([NEW_SECRET, OLD_SECRET]).verify(BODY, headers).id == "fire_1"


def test_other_versions_and_junk_entries_are_skipped() -> None:
    good = signed_headers([NEW_SECRET])
    junk = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,abc garbage"
    headers = good | {"webhook-signature": f"{junk}  {good['webhook-signature']} v1a,xyz"}

    assert Webhook(NEW_SECRET).verify(BODY, headers).id == "fire_1"


def test_sign_uses_the_first_secret() -> None:
    assert Webhook([NEW_SECRET, OLD_SECRET]).sign("m", 1, b"x") == Webhook(NEW_SECRET).sign(
        "m", 1, b"x"
    )


# --- tampering -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "changes"),
    [
        pytest.param(BODY + b" ", {}, id="body with an extra byte"),
        pytest.param(BODY.replace(b"1", b"2"), {}, id="body changed"),
        pytest.param(BODY, {"webhook-id": "fire_2"}, id="id changed"),
        pytest.param(BODY, {"webhook-timestamp": "{ts_plus_one}"}, id="timestamp changed"),
        pytest.param(BODY, {"webhook-signature": "v2,{sig}"}, id="only a v2 signature"),
    ],
)
def test_tampered_delivery_is_rejected(body: bytes, changes: dict[str, str]) -> None:
    headers = signed_headers([NEW_SECRET])
    sig = headers["webhook-signature"].removeprefix("v1,")
    ts_plus_one = str(int(headers["webhook-timestamp"]) + 1)
    headers |= {k: v.format(sig=sig, ts_plus_one=ts_plus_one) for k, v in changes.items()}

    with pytest.raises(InvalidSignatureError, match="'webhook-signature'"):
        Webhook(NEW_SECRET).verify(body, headers)


def test_wrong_secret_is_rejected() -> None:
    with pytest.raises(InvalidSignatureError) as caught:
        Webhook(OLD_SECRET).verify(BODY, signed_headers([NEW_SECRET]))

    assert caught.value.header == "webhook-signature"


def test_header_without_any_v1_signature_says_so() -> None:
    headers = signed_headers([NEW_SECRET]) | {"webhook-signature": "nonsense"}

    with pytest.raises(InvalidSignatureError, match="no 'v1,' signature"):
        Webhook(NEW_SECRET).verify(BODY, headers)


# --- time tolerance ------------------------------------------------------------------------

NOW = 1_800_000_000


@pytest.mark.parametrize(
    ("offset", "message"), [(-301, "too old"), (301, "too new"), (-86_400, "too old")]
)
def test_timestamp_outside_tolerance_is_rejected(offset: int, message: str) -> None:
    wh = Webhook(NEW_SECRET, clock=lambda: NOW)
    headers = signed_headers([NEW_SECRET], ts=NOW + offset)

    with pytest.raises(TimestampOutOfToleranceError, match=message) as caught:
        wh.verify(BODY, headers)

    assert caught.value.header == "webhook-timestamp"
    assert caught.value.skew_seconds == offset


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_timestamp_within_tolerance_is_accepted(offset: int) -> None:
    wh = Webhook(NEW_SECRET, clock=lambda: NOW)

    event = wh.verify(BODY, signed_headers([NEW_SECRET], ts=NOW + offset))

    assert event.timestamp == datetime.fromtimestamp(NOW + offset, UTC)


def test_tolerance_is_configurable() -> None:
    wh = Webhook(NEW_SECRET, tolerance_seconds=5, clock=lambda: NOW)

    with pytest.raises(TimestampOutOfToleranceError, match="tolerance is 5 s"):
        wh.verify(BODY, signed_headers([NEW_SECRET], ts=NOW - 6))


def test_bad_signature_is_reported_before_a_stale_timestamp() -> None:
    wh = Webhook(OLD_SECRET, clock=lambda: NOW)

    with pytest.raises(InvalidSignatureError):
        wh.verify(BODY, signed_headers([NEW_SECRET], ts=NOW - 10_000))


# --- headers -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
@pytest.mark.parametrize("blank", [None, "", "  "])
def test_missing_header_is_named(name: str, blank: str | None) -> None:
    headers = signed_headers([NEW_SECRET])
    if blank is None:
        del headers[name]
    else:
        headers[name] = blank

    with pytest.raises(MissingHeaderError, match=f"'{name}'") as caught:
        Webhook(NEW_SECRET).verify(BODY, headers)

    assert caught.value.header == name


@pytest.mark.parametrize("value", ["hello", "1.5", "-1", "1e9", "\u0663\u0663", "1" * 13])
def test_malformed_timestamp_is_named(value: str) -> None:
    headers = signed_headers([NEW_SECRET]) | {"webhook-timestamp": value}

    with pytest.raises(MalformedHeaderError, match="'webhook-timestamp'"):
        Webhook(NEW_SECRET).verify(BODY, headers)


@pytest.mark.parametrize("case", [str.upper, str.title, lambda s: s])
def test_header_names_match_case_insensitively(case: Callable[[str], str]) -> None:
    headers = {case(k): v for k, v in signed_headers([NEW_SECRET]).items()}

    assert Webhook(NEW_SECRET).verify(BODY, headers).id == "fire_1"


def test_str_body_verifies_like_its_utf8_bytes() -> None:
    body = '{"name": "caf\u00e9"}'
    headers = signed_headers([NEW_SECRET], body=body.encode())

    assert Webhook(NEW_SECRET).verify(body, headers).body == body.encode()


def test_cronhook_headers_are_exposed() -> None:
    headers = signed_headers([NEW_SECRET]) | {
        "Idempotency-Key": "fire_1",
        "Cronhook-Schedule-Id": "sch_42",
        "Cronhook-Scheduled-At": "2026-03-29T01:30:00.000Z",
        "Cronhook-Attempt": "3",
    }

    event = Webhook(NEW_SECRET).verify(BODY, headers)

    assert event.idempotency_key == "fire_1"
    assert event.schedule_id == "sch_42"
    assert event.scheduled_at == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert event.attempt == 3


def test_cronhook_headers_are_none_when_absent() -> None:
    event = Webhook(NEW_SECRET).verify(BODY, signed_headers([NEW_SECRET]))

    assert (event.schedule_id, event.scheduled_at, event.attempt, event.idempotency_key) == (
        None,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("cronhook-attempt", "0"),
        ("cronhook-attempt", "two"),
        ("cronhook-scheduled-at", "yesterday"),
        ("cronhook-scheduled-at", "2026-03-29T01:30:00"),
    ],
)
def test_malformed_cronhook_header_is_named(name: str, value: str) -> None:
    headers = signed_headers([NEW_SECRET]) | {name: value}

    with pytest.raises(MalformedHeaderError, match=f"'{name}'"):
        Webhook(NEW_SECRET).verify(BODY, headers)


def test_verified_webhook_is_frozen() -> None:
    event = Webhook(NEW_SECRET).verify(BODY, signed_headers([NEW_SECRET]))

    with pytest.raises(AttributeError):
        event.id = "other"  # type: ignore[misc]


# --- construction and the error tree -------------------------------------------------------


@pytest.mark.parametrize("secret", ["whsec_", "whsec_not base64!", "", []])
def test_unusable_secret_is_refused_at_construction(secret: str | list[str]) -> None:
    with pytest.raises(ValueError, match="secret"):
        Webhook(secret)


def test_every_verification_error_is_a_cronhook_error() -> None:
    for error in (
        MissingHeaderError,
        MalformedHeaderError,
        InvalidSignatureError,
        TimestampOutOfToleranceError,
    ):
        assert issubclass(error, WebhookVerificationError)
    assert issubclass(WebhookVerificationError, CronhookError)
