"""Server-side signing against the Standard Webhooks vector and the official library."""

from __future__ import annotations

import base64

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from dispatcher.invoke.signing import check, signature, signature_header

# The fixed vector published with the Standard Webhooks reference libraries.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_standard_webhooks_vector() -> None:
    assert signature(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIG


@pytest.mark.parametrize("body", [b"", b"{}", b'{"a":"\xc3\xa9"}', b"line1\nline2\r\n\t"])
def test_the_official_library_verifies_what_we_sign(body: bytes) -> None:
    import time

    ts = int(time.time())
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    headers = {
        "webhook-id": "fire_x",
        "webhook-timestamp": str(ts),
        "webhook-signature": signature_header([secret], "fire_x", ts, body),
    }
    Webhook(secret).verify(body, headers, json_parse=False)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers, json_parse=False)


def test_during_rotation_both_secrets_sign_and_either_verifies() -> None:
    import time

    ts = int(time.time())
    old = "whsec_" + base64.b64encode(b"o" * 32).decode()
    new = "whsec_" + base64.b64encode(b"n" * 32).decode()
    header = signature_header([new, old], "fire_y", ts, b"{}")
    assert len(header.split(" ")) == 2
    headers = {"webhook-id": "fire_y", "webhook-timestamp": str(ts), "webhook-signature": header}
    Webhook(old).verify(b"{}", headers, json_parse=False)
    Webhook(new).verify(b"{}", headers, json_parse=False)


def test_no_secret_is_an_error_not_an_unsigned_delivery() -> None:
    with pytest.raises(ValueError):
        signature_header([], "fire_z", 1, b"")


# -- one rule, two homes: the server's check and the standalone SDK's copy ---------------------
SECRET_A = "whsec_" + base64.b64encode(b"a" * 32).decode()
SECRET_B = "whsec_" + base64.b64encode(b"b" * 24).decode()
CASES = [
    (VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY),
    (SECRET_A, "fire_1", 1_795_000_000, b""),
    (SECRET_B, "fire_\u00e9", 1, b'{"a":"\xc3\xa9"}'),
    (SECRET_A, "f", 4_102_444_800, b"line1\nline2\r\n\t" * 300),
]


def headers_for(msg_id: str, ts: int, header: str) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": header}


@pytest.mark.parametrize(("secret", "msg_id", "ts", "body"), CASES)
def test_the_sdk_signs_as_the_server_does(secret: str, msg_id: str, ts: int, body: bytes) -> None:
    from cronhook.webhooks import Webhook as SdkWebhook

    assert SdkWebhook(secret).sign(msg_id, ts, body) == signature(secret, msg_id, ts, body)


@pytest.mark.parametrize(("secret", "msg_id", "ts", "body"), CASES)
def test_the_sdk_and_the_server_check_each_others_deliveries(
    secret: str, msg_id: str, ts: int, body: bytes
) -> None:
    from cronhook.webhooks import InvalidSignatureError
    from cronhook.webhooks import Webhook as SdkWebhook

    # what the server signs (with a second secret beside it, as in a rotation)
    header = signature_header([SECRET_B, secret], msg_id, ts, body)
    SdkWebhook(secret, clock=lambda: ts).verify(body, headers_for(msg_id, ts, header))
    # what the SDK signs
    sdk_header = SdkWebhook(secret).sign(msg_id, ts, body)
    assert check([secret], headers_for(msg_id, ts, sdk_header), body, ts) is None
    # and neither accepts a changed body
    with pytest.raises(InvalidSignatureError):
        SdkWebhook(secret, clock=lambda: ts).verify(body + b"x", headers_for(msg_id, ts, header))
    assert check([secret], headers_for(msg_id, ts, sdk_header), body + b"x", ts) is not None


@pytest.mark.parametrize(
    ("headers", "now", "reason"),
    [
        ({}, VECTOR_TS, "missing webhook-* headers"),
        (headers_for(VECTOR_ID, VECTOR_TS, ""), VECTOR_TS, "missing webhook-* headers"),
        (headers_for(VECTOR_ID, VECTOR_TS, VECTOR_SIG), VECTOR_TS + 301, "timestamp outside"),
        (headers_for(VECTOR_ID, VECTOR_TS, VECTOR_SIG), VECTOR_TS - 301, "timestamp outside"),
        (headers_for(VECTOR_ID, VECTOR_TS, "v1,AAAA"), VECTOR_TS, "no signature matches"),
        (headers_for("msg_other", VECTOR_TS, VECTOR_SIG), VECTOR_TS, "no signature matches"),
    ],
)
def test_check_says_why_a_delivery_fails(headers: dict[str, str], now: int, reason: str) -> None:
    found = check([SECRET_A, VECTOR_SECRET], headers, VECTOR_BODY, now)
    assert found is not None and found.startswith(reason)


def test_check_accepts_the_vector_under_any_active_secret() -> None:
    headers = headers_for(VECTOR_ID, VECTOR_TS, f"v1,AAAA {VECTOR_SIG}")
    assert check([SECRET_A, VECTOR_SECRET], headers, VECTOR_BODY, VECTOR_TS + 300) is None
