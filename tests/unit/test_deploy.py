"""deploy/systemd: the template units rendered for instances 1 and 2 with the example
environment file give every process its own port.

Rendering follows systemd.unit(5) and systemd.exec(5) for what these units use: ``%i`` is
the instance name; ``Environment=`` assignments come first and ``EnvironmentFile=``
overrides them (whatever their order in the unit); ``ExecStart=`` is split like a shell
word list. The command line is then read by cronhook's own parser, so what is checked is
the port each process would bind."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.cli import parser, settings_for
from app.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ENV_FILE = "/etc/cronhook/cronhook.env"
UNITS = ("cronhook-api.service", "cronhook-dispatcher@.service", "cronhook-invoker@.service")


def read_env_file(text: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, _, value = line.partition("=")
        env[key.strip()] = value.strip().strip('"')
    return env


@dataclass(frozen=True)
class Rendered:
    argv: list[str]
    env: dict[str, str]

    def settings(self) -> Settings:
        assert Path(self.argv[0]).name == "cronhook", self.argv
        return settings_for(parser().parse_args(self.argv[1:]), self.env)


def render(unit: str, instance: str, env_files: dict[str, str]) -> Rendered:
    return render_text((DEPLOY / "systemd" / unit).read_text(), instance, env_files)


def render_text(unit_text: str, instance: str, env_files: dict[str, str]) -> Rendered:
    """A unit's text for ``instance``, with ``env_files`` mapping each EnvironmentFile=
    path to the file's text."""
    text = unit_text.replace("%i", instance)
    assert "%" not in text.replace("%%", ""), "a specifier this renderer does not know"
    service = text.split("[Service]", 1)[1].split("\n[", 1)[0]
    env: dict[str, str] = {}
    from_files: dict[str, str] = {}
    argv: list[str] = []
    for line in service.splitlines():
        key, _, value = line.partition("=")
        if key == "Environment":
            for assignment in shlex.split(value):
                name, _, val = assignment.partition("=")
                env[name] = val
        elif key == "EnvironmentFile":
            from_files |= read_env_file(env_files[value.removeprefix("-")])
        elif key == "ExecStart":
            argv = shlex.split(value)
    return Rendered(argv, env | from_files)


def example_env() -> str:
    return (DEPLOY / "cronhook.env.example").read_text()


def ports(env_text: str) -> dict[str, int]:
    files = {ENV_FILE: env_text}
    out = {"api": render("cronhook-api.service", "", files).settings().port}
    for role in ("dispatcher", "invoker"):
        for n in ("1", "2"):
            rendered = render(f"cronhook-{role}@.service", n, files)
            out[f"{role}@{n}"] = rendered.settings().metrics_port
    return out


def test_every_unit_reads_the_example_environment_file() -> None:
    for unit in UNITS:
        assert f"EnvironmentFile={ENV_FILE}" in (DEPLOY / "systemd" / unit).read_text()


def test_two_instances_of_each_role_on_one_host_get_their_own_ports() -> None:
    got = ports(example_env())
    assert got == {
        "api": 8080,
        "dispatcher@1": 9101,
        "dispatcher@2": 9102,
        "invoker@1": 9201,
        "invoker@2": 9202,
    }


@pytest.mark.parametrize("line", ["CRONHOOK_METRICS_PORT=9100", "CRONHOOK_METRICS_PORT=0"])
def test_a_metrics_port_in_the_shared_file_does_not_make_instances_clash(line: str) -> None:
    got = ports(example_env() + f"\n{line}\n")
    assert len(set(got.values())) == len(got), got


def test_the_renderer_applies_environment_file_over_environment() -> None:
    # the systemd rule that made per-instance Environment= ports lose to the shared file
    unit = (
        "[Service]\nEnvironment=CRONHOOK_METRICS_PORT=910%i\n"
        f"EnvironmentFile={ENV_FILE}\nExecStart=/x/cronhook dispatcher\n"
    )
    rendered = render_text(unit, "1", {ENV_FILE: "CRONHOOK_METRICS_PORT=9100\n"})
    assert rendered.settings().metrics_port == 9100


def test_the_examples_ask_for_a_keyring_for_secrets_at_rest() -> None:
    # the env file shows where the keyring goes; filled in, every unit gets it
    assert "\n#CRONHOOK_SECRET_KEYS=\n" in example_env()
    key = "2026-12:" + "A" * 43 + "="
    files = {
        ENV_FILE: example_env().replace("#CRONHOOK_SECRET_KEYS=", f"CRONHOOK_SECRET_KEYS={key}")
    }
    rendered = [render("cronhook-api.service", "", files)] + [
        render(f"cronhook-{role}@.service", "1", files) for role in ("dispatcher", "invoker")
    ]
    assert [r.settings().secret_keys for r in rendered] == [key] * 3
    compose = (DEPLOY / "compose.yaml").read_text()
    assert "CRONHOOK_SECRET_KEYS: ${CRONHOOK_SECRET_KEYS:?" in compose
