"""Server-side signing against the Standard Webhooks vector and the official library."""

from __future__ import annotations

import base64

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from dispatcher.invoke.signing import signature, signature_header

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
