"""One version: the server's (app/version.py) is the SDK's, the API contract's and the one
webhook receivers see in the User-Agent; one licence text for both packages."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

import cronhook
from app.version import __version__
from dispatcher.http.client import DEFAULT_USER_AGENT

ROOT = Path(__file__).resolve().parents[2]


def test_the_version_is_a_plain_release_number() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__), __version__


def test_the_sdk_and_the_api_contract_carry_the_server_version() -> None:
    contract = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    assert cronhook.__version__ == __version__
    assert contract["info"]["version"] == __version__


def test_webhooks_name_the_version_in_their_user_agent() -> None:
    assert f"cronhook/{__version__}" == DEFAULT_USER_AGENT


def test_both_packages_read_their_version_from_the_source_and_not_a_copy() -> None:
    server = tomllib.loads((ROOT / "pyproject.toml").read_text())
    sdk = tomllib.loads((ROOT / "sdk" / "pyproject.toml").read_text())
    assert "version" not in server["project"] and "version" in server["project"]["dynamic"]
    assert "version" not in sdk["project"] and "version" in sdk["project"]["dynamic"]
    assert server["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "app.version.__version__"}
    assert sdk["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "cronhook._version.__version__"
    }


def test_the_changelog_has_an_entry_for_the_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## \[?{re.escape(__version__)}\]?", changelog, re.M), __version__


def test_both_packages_ship_the_apache_license_the_metadata_names() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert (ROOT / "sdk" / "LICENSE").read_text() == text
    for pyproject in (ROOT / "pyproject.toml", ROOT / "sdk" / "pyproject.toml"):
        assert tomllib.loads(pyproject.read_text())["project"]["license"] == {"text": "Apache-2.0"}
