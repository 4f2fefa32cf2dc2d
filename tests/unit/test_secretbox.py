"""Envelope encryption of signing secrets: what a keyring seals only it opens, for the
tenant it was sealed for, and the keyring's format is checked with clear errors."""

from __future__ import annotations

import base64

import pytest

from app.errors import ConfigError
from app.secretbox import Keyring, SecretUnreadable, new_key

SECRET = "whsec_" + base64.b64encode(b"s" * 24).decode()


def ring(*ids: str) -> Keyring:
    return Keyring.parse(",".join(f"{i}:{KEYS[i]}" for i in ids))


KEYS = {"k1": new_key(), "k2": new_key()}


def test_a_sealed_secret_opens_and_shows_nothing_in_clear() -> None:
    sealed = ring("k1").seal(SECRET, "ten_a")
    assert sealed["kid"] == "k1"
    assert SECRET not in str(sealed) and SECRET.removeprefix("whsec_") not in str(sealed)
    assert ring("k1").open(sealed, "ten_a") == SECRET


def test_each_seal_uses_a_fresh_data_key() -> None:
    a, b = ring("k1").seal(SECRET, "ten_a"), ring("k1").seal(SECRET, "ten_a")
    assert a["dek"] != b["dek"] and a["ct"] != b["ct"]


def test_a_secret_sealed_for_one_tenant_does_not_open_for_another() -> None:
    sealed = ring("k1").seal(SECRET, "ten_a")
    with pytest.raises(SecretUnreadable):
        ring("k1").open(sealed, "ten_b")


@pytest.mark.parametrize("part", ["dek", "ct"])
def test_an_altered_sealed_secret_does_not_open(part: str) -> None:
    sealed = ring("k1").seal(SECRET, "ten_a")
    raw = bytearray(base64.b64decode(sealed[part]))
    raw[-1] ^= 1
    with pytest.raises(SecretUnreadable):
        ring("k1").open({**sealed, part: base64.b64encode(bytes(raw)).decode()}, "ten_a")


def test_rotation_seals_under_the_first_key_and_opens_under_every_key() -> None:
    old = ring("k1").seal(SECRET, "ten_a")
    rotated = ring("k2", "k1")
    assert rotated.open(old, "ten_a") == SECRET
    assert rotated.seal(SECRET, "ten_a")["kid"] == "k2"
    with pytest.raises(SecretUnreadable, match="k1"):
        ring("k2").open(old, "ten_a")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "no key"),
        ("k1", "id:base64key"),
        ("k 1:" + new_key(), "id:base64key"),
        ("k1:not base64!", "not base64"),
        ("k1:" + base64.b64encode(b"x" * 16).decode(), "16 bytes"),
        (f"k1:{new_key()},k1:{new_key()}", "twice"),
    ],
)
def test_a_bad_keyring_is_a_config_error_that_never_shows_a_key(text: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as e:
        Keyring.parse(text)
    assert all(k not in str(e.value) for k in KEYS.values())
