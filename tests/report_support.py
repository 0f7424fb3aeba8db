"""Inputs for the report tests: libraries of real (simulated) runs, constructed histories, and a
headless-Chromium check of a page."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from imurun.sim.firmware import Flash, SensorConfig, VirtualSensor
from imurun.sim.motion import RunnerProfile
from imurun.sim.source import motion_source
from imurun.store.library import Library, RunRecord
from tests.library_support import write_run

DAY_S = 86_400
#: Monday 2026-11-16 12:00 UTC (ISO week 2026-W47).
W47_MONDAY_NOON = 1_794_830_400
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


# ---------------------------------------------------------------------------- simulated runs
def simulated_runs(directory: Path, *, minutes: tuple[float, ...], start_unix_s: float,
                   profile: RunnerProfile | None = None, seed: int = 5,
                   device_id: int = 0x1D0C_5E75_0000_7E57, days_apart: float = 2.0) -> list[Path]:
    """Stored-run files as the virtual sensor records them (real motion, real encoder)."""
    cfg = SensorConfig(device_id=device_id)
    flash = Flash(directory / "flash")
    sensor = VirtualSensor(cfg, flash)
    for k, m in enumerate(minutes):
        src = motion_source(seed * 1000 + k, cfg, directory / "truth", profile=profile)
        sensor.record_run(src(m * 60.0, f"r{k}"), int((start_unix_s + k * days_apart * DAY_S)
                                                       * 1000))
    return sorted((directory / "flash").glob("run-*.imrn"))


# ---------------------------------------------------------------------------- constructed
def analysis_doc(*, running_s: float, n_steps: int = 500, levels: dict[str, str] | None = None,
                 values: dict[str, float] | None = None, lost_s: float = 0.0) -> dict[str, Any]:
    """A minimal ``imurun.analysis/1`` document with the given summary values and indicators."""
    summary: dict[str, Any] = {
        "n_steps": n_steps, "running_s": running_s, "cadence_spm": 170.0, "contact_ms": 250.0,
        "contact_balance_left_pct": 50.5, "vertical_oscillation_cm": 7.0, "braking_mps": 0.3,
        "pelvic_tilt_range_deg": 6.0, "pelvic_drop_stance_left_deg": 5.5,
        "pelvic_drop_stance_right_deg": 6.0, "pelvic_rotation_range_deg": 10.0,
        "quality": {"time": [{"reason": "running", "seconds": running_s},
                             {"reason": "gap", "seconds": lost_s}], "frames_lost": 0},
    }
    summary.update(values or {})
    keys = ("overstriding", "pelvic_drop_left", "pelvic_drop_right", "anterior_tilt",
            "asymmetry", "form_drift")
    lv = {k: "not_raised" for k in keys} | (levels or {})
    indicators = [{"key": k, "title": k.replace("_", " ").capitalize(), "level": lv[k],
                   "value": 1.0, "unit": "", "evidence": [], "message": ""} for k in keys]
    return {"schema": "imurun.analysis/1", "imurun_version": "test", "steps": [],
            "summary": summary, "indicators": indicators}


@dataclass
class History:
    """Builds an athlete's history in a library: one tiny run file per run, any analysis."""

    lib: Library
    tmp: Path
    next_run_id: dict[int, int] = field(default_factory=dict)

    def run(self, athlete: str, start_unix_s: float, doc: dict[str, Any] | None, *,
            device: int, seconds: float = 2.0) -> RunRecord:
        rid = self.next_run_id.get(device, 0) + 1
        self.next_run_id[device] = rid
        f = write_run(self.tmp / f"{device:x}", device, rid, start_unix_ms=int(start_unix_s * 1000),
                      seconds=seconds, seed=rid)
        try:
            self.lib.athlete(athlete)
        except LookupError:
            self.lib.add_athlete(athlete)
        if self.lib.athlete_of_sensor(device) is None:
            self.lib.bind_sensor(device, athlete)
        run = self.lib.add_file(f).run
        if doc is not None:
            run = self.lib.set_analysis(run.id, doc)
        return run


def watch_fit(path: Path, start_unix_s: float, seconds: int, speed_mps: float = 3.2, *,
              speeds_mps: Sequence[float] | None = None) -> Path:
    """A watch's activity as Garmin's own SDK writes it: one record per second, at
    ``speed_mps`` or at ``speeds_mps[i]`` in second ``i`` (distance: their running sum)."""
    import datetime as dt

    from garmin_fit_sdk import Encoder, Profile

    start = dt.datetime.fromtimestamp(start_unix_s, dt.UTC)
    e = Encoder()
    e.write_mesg({"mesg_num": Profile["mesg_num"]["FILE_ID"], "type": "activity",
                  "manufacturer": "garmin", "product": 1, "serial_number": 42,
                  "time_created": start})
    v = [speed_mps] * seconds if speeds_mps is None else list(speeds_mps)[:seconds]
    dist = 0.0
    for i, vi in enumerate(v):
        e.write_mesg({"mesg_num": Profile["mesg_num"]["RECORD"],
                      "timestamp": start + dt.timedelta(seconds=i), "heart_rate": 150,
                      "enhanced_speed": vi, "distance": dist, "cadence": 85})
        dist += vi
    path.write_bytes(e.close())
    return path


def truth_watch_fit(path: Path, truth_npz: Path, start_unix_s: float) -> Path:
    """A watch file of a simulated run: its true speed, averaged over each second."""
    from imurun.sim.source import load_truth
    from imurun.sim.watch import per_second_speed

    tr = load_truth(truth_npz)
    per_s = per_second_speed(tr["speed_mps"], float(tr["meta"]["fs_hz"]))
    return watch_fit(path, start_unix_s, len(per_s), speeds_mps=per_s.tolist())


# ---------------------------------------------------------------------------- the browser
def chromium() -> str:
    """Debian's Chromium, installed with apt-get when missing; skips only when that fails."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    apt = shutil.which("apt-get")
    reason = "Chromium is not installed"
    if apt and hasattr(os, "geteuid") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            subprocess.run([apt, "update", "-qq"], check=True, capture_output=True, timeout=600,
                           env=env)
            subprocess.run([apt, "install", "-y", "-qq", "chromium"], check=True,
                           capture_output=True, timeout=900, env=env)
        except (subprocess.SubprocessError, OSError) as e:
            reason = f"Chromium is not installed and `apt-get install chromium` failed: {e}"
        found = shutil.which("chromium")
        if found:
            return found
    elif apt:
        reason = "Chromium is not installed and this user cannot apt-get install it"
    pytest.skip(f"{reason} (`make sysdeps` installs it)")


#: Flags for a quiet, offline, throw-away browser (the user data directory is added per run).
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync")


@dataclass
class PageCheck:
    console: list[tuple[str, str]]  # (type, text) of every console message
    errors: list[str]  # uncaught page errors
    requests: list[str]  # every URL the page asked for
    missing: list[str]  # ids that are absent or not visible
    broken_images: list[str]  # ids of plots whose image did not decode
    screenshot: Path
    title: str
    overflow_px: int  # how far the page is wider than the viewport (0 on a good phone layout)


def check_page(html_file: Path, ids: list[str], screenshot: Path, *,
               width: int = 1100, height: int = 900) -> PageCheck:
    """Open ``html_file`` in headless Chromium (through Playwright, which drives the system's
    browser and downloads none) and report what a person would run into."""
    from playwright.sync_api import sync_playwright

    exe = chromium()
    console: list[tuple[str, str]] = []
    errors: list[str] = []
    requests: list[str] = []
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=exe, headless=True, args=list(CHROMIUM_ARGS),
            viewport={"width": width, "height": height}, offline=True)
        try:
            page = ctx.new_page()
            page.on("console", lambda m: console.append((m.type, m.text)))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(html_file.resolve().as_uri(), wait_until="load")
            state = page.evaluate("""ids => ids.map(id => {
                const el = document.getElementById(id);
                if (!el) return [id, false, true];
                const r = el.getBoundingClientRect();
                const st = getComputedStyle(el);
                const visible = r.width > 0 && r.height > 0 && st.visibility !== 'hidden'
                                && st.display !== 'none';
                const img = el.querySelector('img');
                const decoded = !img || (img.complete && img.naturalWidth > 0);
                return [id, visible, decoded];
            })""", ids)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth")
            title = page.title()
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            ctx.close()
    return PageCheck(console, errors, requests, [i for i, vis, _ in state if not vis],
                     [i for i, _, ok in state if not ok], screenshot, title, int(overflow))


def scrolled_tables(html_file: Path, width: int = 390, height: int = 900) -> list[str]:
    """The tables of ``html_file`` wider than their box at ``width`` (the part a phone hides
    behind a sideways scroll): ``section id: first header or cell`` for each."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=chromium(), headless=True, args=list(CHROMIUM_ARGS),
            viewport={"width": width, "height": height}, offline=True)
        try:
            page = ctx.new_page()
            page.goto(html_file.resolve().as_uri(), wait_until="load")
            found: list[str] = page.evaluate("""() => Array.from(
                document.querySelectorAll('.table-wrap')).filter(
                w => w.querySelector('table').scrollWidth > w.clientWidth + 1).map(w => {
                    const s = w.closest('section');
                    return (s ? s.id : '?') + ': ' + w.querySelector('tr').innerText.trim();
                })""")
        finally:
            ctx.close()
    return found


def json_of(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


#: Viewport widths from a small phone to a wide desktop, with the ones in between.
CARD_WIDTHS: tuple[int, ...] = (360, 390, 430, 480, 540, 600, 601, 640, 675, 700, 720, 768, 800,
                                900, 980, 1024, 1200, 1400)


def wrapped_cards(html_file: Path, widths: Sequence[int] = CARD_WIDTHS,
                  height: int = 900) -> list[str]:
    """The cards of ``html_file`` whose label or value takes more than one line, at each width.

    ``"675: Pelvic drop, right stance: label 2 lines"``; a value ("164 steps/min") must never
    break, a label only on a phone (below 601 px), and there into 2 lines at most.
    """
    from playwright.sync_api import sync_playwright

    found: list[str] = []
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=chromium(), headless=True, args=list(CHROMIUM_ARGS),
            viewport={"width": widths[0], "height": height}, offline=True)
        try:
            page = ctx.new_page()
            page.goto(html_file.resolve().as_uri(), wait_until="load")
            for w in widths:
                page.set_viewport_size({"width": w, "height": height})
                lines: list[list[Any]] = page.evaluate("""() => Array.from(
                    document.querySelectorAll('.card')).map(c => {
                        const n = el => Math.round(el.getBoundingClientRect().height
                                                   / parseFloat(getComputedStyle(el).lineHeight));
                        const label = c.querySelector('.label');
                        const value = c.querySelector('.value');
                        return [label.innerText, n(label), n(value),
                                value.scrollWidth > c.clientWidth];
                    })""")
                for label, n_label, n_value, overflows in lines:
                    if n_value > 1 or overflows:
                        found.append(f"{w}: {label}: value {n_value} lines"
                                     + (", wider than its card" if overflows else ""))
                    if n_label > (2 if w <= 600 else 1):
                        found.append(f"{w}: {label}: label {n_label} lines")
        finally:
            ctx.close()
    return found
