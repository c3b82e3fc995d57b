"""Settings: parsed from NEWSWORKER_* only, and every one of them documented in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from worker.config import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def env_names() -> list[str]:
    return [f.alias or f"NEWSWORKER_{name.upper()}" for name, f in Settings.model_fields.items()]


@pytest.mark.parametrize("name", env_names())
def test_every_setting_is_in_the_readme(name: str) -> None:
    short = "_" + name.removeprefix("NEWSWORKER_")
    assert name in README or re.search(rf"`{re.escape(short)}`", README), f"{name} is not documented"


def test_settings_come_from_prefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWORKER_INPUT_TOPIC", "in.x")
    monkeypatch.setenv("NEWSWORKER_TRACKED_SOURCES", "a, b")
    monkeypatch.setenv("INPUT_TOPIC", "wrong")
    s = Settings()
    assert s.input_topic == "in.x" and s.tracked_sources == ["a", "b"]
