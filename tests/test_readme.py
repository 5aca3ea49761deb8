"""The README documents every command, every option and every config key."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from pydantic import BaseModel

from tracker import config as cfg
from tracker.cli import build_parser

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _commands() -> list[tuple[str, argparse.ArgumentParser]]:
    out: list[tuple[str, argparse.ArgumentParser]] = []

    def walk(prefix: str, parser: argparse.ArgumentParser) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    out.append((f"{prefix} {name}".strip(), child))
                    walk(f"{prefix} {name}", child)

    walk("", build_parser())
    return out


COMMANDS = _commands()


def test_the_two_commands_come_first() -> None:
    lines = [line for line in README.splitlines() if line.strip()]
    assert lines[1] == "```sh"
    assert lines[2].startswith("scripts/run.sh")
    assert lines[3].startswith("scripts/test.sh")
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/test.sh" in ci


@pytest.mark.parametrize(("name", "parser"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_every_command_and_option_is_documented(name: str, parser: argparse.ArgumentParser) -> None:
    assert f"`tracker {name}" in README, f"command `tracker {name}` is not in the README"
    for action in parser._actions:
        for option in action.option_strings:
            if option.startswith("--") and option != "--help":
                assert f"`{option}" in README, f"option {option} of `tracker {name}` is not in the README"


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        keys.append(prefix + name)
        annotation = field.annotation
        for candidate in (annotation, *getattr(annotation, "__args__", ())):
            inner = getattr(candidate, "__args__", (candidate,))
            for sub in (candidate, *inner):
                if isinstance(sub, type) and issubclass(sub, BaseModel) and sub is not model:
                    keys.extend(_keys(sub, prefix + name + "."))
    return keys


@pytest.mark.parametrize("key", sorted(set(_keys(cfg.Config))))
def test_every_config_key_is_documented(key: str) -> None:
    leaf = key.rsplit(".", 1)[-1]
    spellings = (f"`{leaf}`", f"{leaf} =", f"`{key}`", f"`[{key}]`", f"`[[{key}]]`")
    assert any(s in README for s in spellings), f"config key {key} is not documented in the README"
