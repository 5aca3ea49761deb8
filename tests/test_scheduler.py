"""The scheduler: a job per source, a crashing source never stops another, no overlap, clean stop."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tracker.config import load_config, parse_text
from tracker.pipeline import RunSummary
from tracker.scheduler import MAX_STORAGE_BACKOFF, Service, backoff_delay, source_interval

CONFIG = parse_text(
    """
[defaults]
interval = "1s"
jitter = "0s"
[[sources]]
name = "Good"
kind = "page"
url = "https://good.example/p"
[[sources]]
name = "Crashing"
kind = "page"
url = "https://bad.example/p"
[[sources]]
name = "Slow"
kind = "page"
url = "https://slow.example/p"
[[sources]]
name = "Off"
kind = "page"
url = "https://off.example/p"
enabled = false
"""
)


class Recorder:
    """Stands in for the pipeline: records calls and overlap; one source raises, one is slow."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.active: dict[str, int] = {}
        self.max_active: dict[str, int] = {}

    async def check(self, name: str) -> RunSummary:
        self.calls[name] = self.calls.get(name, 0) + 1
        self.active[name] = self.active.get(name, 0) + 1
        self.max_active[name] = max(self.max_active.get(name, 0), self.active[name])
        try:
            if name == "Crashing":
                raise RuntimeError("boom")
            if name == "Slow":
                await asyncio.sleep(2.5)  # longer than its interval: must not overlap itself
            return RunSummary(name, "ok", 1)
        finally:
            self.active[name] -= 1


def test_sources_run_independently_and_never_overlap() -> None:
    recorder = Recorder()
    service = Service(CONFIG, recorder)  # type: ignore[arg-type]

    async def main() -> None:
        task = asyncio.create_task(service.serve(install_signals=False))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if recorder.calls.get("Good", 0) >= 3 and recorder.calls.get("Crashing", 0) >= 3:
                break
            await asyncio.sleep(0.05)
        service.stop()
        await asyncio.wait_for(task, 10)

    asyncio.run(main())
    assert recorder.calls["Good"] >= 3 and recorder.calls["Crashing"] >= 3
    assert "Off" not in recorder.calls
    assert recorder.max_active["Slow"] == 1
    assert all(s.source == "Good" for s in service.summaries if s.source != "Slow")


def test_stop_cancels_a_check_in_flight() -> None:
    cancelled: list[str] = []

    class Hanging:
        async def check(self, name: str) -> Any:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled.append(name)
                raise

    service = Service(CONFIG, Hanging())  # type: ignore[arg-type]

    async def main() -> None:
        task = asyncio.create_task(service.serve(install_signals=False))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(service._running) < 3:
            await asyncio.sleep(0.02)
        service.stop()
        await asyncio.wait_for(task, 10)

    asyncio.run(main())
    assert sorted(cancelled) == ["Crashing", "Good", "Slow"]


def test_intervals_fall_back_to_defaults_and_cap_jitter() -> None:
    config = parse_text(
        """
[defaults]
interval = "10m"
jitter = "20m"
[[sources]]
name = "A"
kind = "page"
url = "https://a.example/p"
[[sources]]
name = "B"
kind = "page"
url = "https://b.example/p"
interval = "1h"
jitter = "5m"
"""
    )
    a, b = config.sources
    assert source_interval(config, a) == (600.0, 300.0)
    assert source_interval(config, b) == (3600.0, 300.0)


def test_an_edited_config_is_applied_without_a_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "config.toml"
    one = '[defaults]\ninterval = "1h"\njitter = "0s"\n[[sources]]\nname = "Good"\nkind = "page"\nurl = "https://g.example/p"\n'
    path.write_text(one, encoding="utf-8")
    recorder = Recorder()
    recorder.config = load_config(path)  # type: ignore[attr-defined]
    service = Service(load_config(path), recorder, config_path=path, watch_every=0.1)  # type: ignore[arg-type]

    async def main() -> None:
        task = asyncio.create_task(service.serve(install_signals=False))

        async def wait_for(name: str) -> None:
            deadline = time.monotonic() + 20
            while recorder.calls.get(name, 0) < 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)

        await wait_for("Good")
        # A broken edit is refused and the running schedule kept.
        path.write_text(one + "bogus = 1\n", encoding="utf-8")
        deadline = time.monotonic() + 20
        while "config not reloaded" not in caplog.text and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        # A valid edit adds a source, which is checked at once.
        path.write_text(
            one + '[[sources]]\nname = "Added"\nkind = "page"\nurl = "https://a.example/p"\n',
            encoding="utf-8",
        )
        await wait_for("Added")
        service.stop()
        await asyncio.wait_for(task, 10)

    with caplog.at_level(logging.INFO, logger="tracker"):
        asyncio.run(main())
    assert (
        "config not reloaded, the running one is kept: " in caplog.text
        and "bogus: unknown key" in caplog.text
    )
    assert recorder.calls["Added"] == 1 and recorder.calls["Good"] == 1
    assert [s.name for s in service.config.sources] == ["Good", "Added"]
    assert recorder.config is service.config  # type: ignore[attr-defined]


def test_a_shop_that_refuses_us_is_asked_less_often() -> None:
    config = parse_text(
        '[defaults]\ninterval = "10s"\njitter = "0s"\n'
        '[[sources]]\nname = "Limited"\nkind = "page"\nurl = "https://l.example/p"\n'
        '[[sources]]\nname = "Missing"\nkind = "page"\nurl = "https://m.example/p"\n'
    )

    class Refusing:
        async def check(self, name: str) -> RunSummary:
            return RunSummary(name, "rate_limited" if name == "Limited" else "http_error", 1)

    service = Service(config, Refusing())  # type: ignore[arg-type]
    gaps: dict[str, float] = {}

    async def main() -> None:
        task = asyncio.create_task(service.serve(install_signals=False))
        deadline = time.monotonic() + 10
        while len(service.summaries) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        now = datetime.now(UTC)
        for name in ("Limited", "Missing"):
            job = service.scheduler.get_job(f"source:{name}")
            gaps[name] = (job.next_run_time - now).total_seconds()
        service.stop()
        await asyncio.wait_for(task, 10)

    asyncio.run(main())
    assert service.failures == {"Limited": 1}
    assert gaps["Limited"] > 15  # twice the interval after one refusal
    assert gaps["Missing"] <= 10  # a 404 is the config's problem, not the shop's load: normal interval


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_delay(60, n) for n in (1, 2, 3)] == [120, 240, 480]
    assert backoff_delay(1800, 10) == 6 * 3600
    assert backoff_delay(86400, 3) == 86400


class Fetcherish:
    """Stands in for the pipeline's fetcher: records the [defaults] it is given."""

    def __init__(self) -> None:
        self.defaults: list[Any] = []

    def reconfigure(self, defaults: Any) -> None:
        self.defaults.append(defaults)


def test_defaults_edited_in_a_running_tracker_apply_and_restart_keys_are_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    source = '[[sources]]\nname = "Good"\nkind = "page"\nurl = "https://g.example/p"\n'
    path.write_text('[defaults]\ninterval = "1h"\njitter = "0s"\n' + source, encoding="utf-8")
    recorder = Recorder()
    recorder.fetcher = Fetcherish()  # type: ignore[attr-defined]
    service = Service(load_config(path), recorder, config_path=path, watch_every=0.1)  # type: ignore[arg-type]
    intervals: list[float] = []

    async def main() -> None:
        task = asyncio.create_task(service.serve(install_signals=False))
        deadline = time.monotonic() + 20
        while recorder.calls.get("Good", 0) < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        intervals.append(service.scheduler.get_job("source:Good").trigger.interval.total_seconds())
        # [defaults] interval and timeout edited, the database and the dashboard's port too.
        path.write_text(
            'database_url = "sqlite:///elsewhere.db"\n[dashboard]\nport = 9999\n'
            '[defaults]\ninterval = "2h"\njitter = "0s"\ntimeout = "5s"\n' + source,
            encoding="utf-8",
        )
        deadline = time.monotonic() + 20
        while "config reloaded" not in caplog.text and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        intervals.append(service.scheduler.get_job("source:Good").trigger.interval.total_seconds())
        # A channel whose secret is not in the environment is refused; the running config is kept.
        monkeypatch.delenv("HOOK_TOKEN", raising=False)
        path.write_text(
            path.read_text(encoding="utf-8")
            + '[[alerts.channels]]\nname = "hook"\nurl = "json://h.example/${HOOK_TOKEN}"\n',
            encoding="utf-8",
        )
        deadline = time.monotonic() + 20
        while "HOOK_TOKEN" not in caplog.text and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        service.stop()
        await asyncio.wait_for(task, 10)

    with caplog.at_level(logging.INFO, logger="tracker"):
        asyncio.run(main())
    assert intervals == [3600.0, 7200.0]
    assert [d.timeout for d in recorder.fetcher.defaults] == [5.0]  # type: ignore[attr-defined]
    assert "database_url changed in" in caplog.text and "dashboard.port changed in" in caplog.text
    assert "restart the tracker to apply it" in caplog.text
    assert (
        "config not reloaded, the running one is kept: alerts.channels[0].url (channel 'hook'):"
        " environment variable HOOK_TOKEN is not set" in caplog.text
    )
    assert service.config.alerts.channels == []


def test_storage_errors_back_off_sooner_than_a_refusing_shop() -> None:
    assert backoff_delay(60, 10, longest=MAX_STORAGE_BACKOFF) == MAX_STORAGE_BACKOFF
    assert backoff_delay(60, 1, longest=MAX_STORAGE_BACKOFF) == 120


def test_a_removed_source_leaves_no_backoff_behind(tmp_path: Path) -> None:
    """A running tracker whose shops come and go keeps nothing of the ones that went."""
    path = tmp_path / "config.toml"
    shops = [f'[[sources]]\nname = "{n}"\nkind = "page"\nurl = "https://{n}.example/p"\n' for n in "ab"]
    path.write_text('[defaults]\ninterval = "1h"\njitter = "0s"\n' + "".join(shops), encoding="utf-8")

    class Refusing:
        config: Any = None

        async def check(self, name: str) -> RunSummary:
            return RunSummary(name, "rate_limited", 1)

    service = Service(load_config(path), Refusing(), config_path=path)  # type: ignore[arg-type]

    async def main() -> tuple[dict[str, int], bool]:
        service.schedule()  # the scheduler is not started: the test runs the checks itself
        await service.run_source("a")
        await service.run_source("b")
        failing = dict(service.failures)
        path.write_text('[defaults]\ninterval = "1h"\njitter = "0s"\n' + shops[1], encoding="utf-8")
        return failing, service.reload_if_changed()

    failing, reloaded = asyncio.run(main())
    assert failing == {"a": 1, "b": 1} and reloaded
    assert service.failures == {"b": 1}
    assert service.scheduler.get_job("source:a") is None
