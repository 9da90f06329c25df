"""Headless Chromium: log in, watch a case arrive live, open it, acknowledge, enter the needle
time, see the dashboard's door-to-needle update; screenshots under the test's output folder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image, ImageDraw

from strokealert import alerting
from strokealert.api.server import WebComponent
from strokealert.cases import upsert_case_from_analysis
from tests.api.helpers import PASSWORD, analysis, make_env, new_case

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def write_outputs(folder: Path) -> dict:
    """A key image and a small Tmax map where the pipeline would put them."""
    folder.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (480, 240), "black")
    draw = ImageDraw.Draw(image)
    draw.ellipse((40, 20, 220, 220), outline=(200, 200, 200), width=3)
    draw.ellipse((70, 80, 130, 150), fill=(230, 80, 190))
    draw.ellipse((280, 20, 460, 220), outline=(200, 200, 200), width=3)
    draw.text((290, 200), "LVO MIP (synthetic)", fill=(255, 255, 255))
    image.save(folder / "lvo_mip.png")
    z, y, x = np.mgrid[0:8, 0:48, 0:48]
    tmax = np.where((x - 24) ** 2 + (y - 24) ** 2 < 400, 3.0, 0.0)
    tmax[(x < 20) & ((x - 24) ** 2 + (y - 24) ** 2 < 400)] = 10.0
    nib.save(nib.Nifti1Image(np.transpose(tmax * (z >= 0), (2, 1, 0)).astype(np.float32),
                             np.eye(4)), str(folder / "tmax.nii.gz"))
    result = analysis("1.2.826.0.77.1")
    result["perfusion"]["maps"] = {"tmax": "tmax.nii.gz"}
    result["lvo"]["key_images"] = ["lvo_mip.png"]
    return result


@pytest.mark.timeout(120)
def test_browser_worklist_case_ack_needle_dashboard(tmp_path: Path, output_dir: Path,
                                                    free_port: int) -> None:
    from playwright.sync_api import expect, sync_playwright

    env = make_env(tmp_path, timezone="UTC")
    today = datetime.now(UTC).replace(second=0, microsecond=0)
    # History so the dashboard has a distribution: DTN 38 and 72 minutes.
    for i, (dtn, level) in enumerate(((38, "critical"), (72, "warning"))):
        start = today - timedelta(hours=5 + 30 * i)
        new_case(env.factory, f"1.2.826.0.77.{9 + i}", level, arrival_at=start,
                 final_diagnosis="ischemic", age_years=70,
                 created_at=start, needle_at=start + timedelta(minutes=dtn),
                 ncct_at=start + timedelta(minutes=12), first_ack_by="Dr Okafor",
                 first_ack_at=start + timedelta(minutes=16))
    for i, level in enumerate(("manual_review", "none")):
        start = today - timedelta(hours=2 + 9 * i)
        new_case(env.factory, f"1.2.826.0.77.{20 + i}", level, created_at=start)
    web = WebComponent(env.settings, env.factory, port=free_port)
    web.start()
    base = f"http://127.0.0.1:{free_port}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(base + "/")
            page.fill("input[name=username]", "stroke_team")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page.locator("#live-status")).to_have_attribute("data-state", "live")

            result = write_outputs(tmp_path / "outputs" / "case1")
            with env.factory.begin() as session:  # what the pipeline does
                case = upsert_case_from_analysis(session, study=None, result=result,
                                                 output_dirs=[tmp_path / "outputs" / "case1"])
                case.arrival_at = today - timedelta(minutes=50)
                case.cta_at = today - timedelta(minutes=30)
                case_id = case.id
                alerting.raise_alert(session, env.settings, case_id=case.id,
                                     level="critical", kind="new", title=case.title,
                                     body=case.summary, site=case.site,
                                     url=f"{base}/cases/{case.id}")
            row = page.locator(f"#case-{case_id}")
            expect(row).to_be_visible(timeout=15000)
            expect(row).to_contain_text("LVO suspected: left M1")
            # Critical and newest first: the new case is the first row.
            expect(page.locator(".case-row").first).to_have_id(f"case-{case_id}")
            page.wait_for_timeout(1000)
            page.screenshot(path=str(output_dir / "worklist.png"), full_page=True)

            row.click()
            expect(page.locator("h1")).to_contain_text("LVO suspected")
            page.click("#ack-button")
            expect(page.locator("#ack-panel")).to_contain_text("Acknowledged by Dr Stroke_Team")
            needle = (today - timedelta(minutes=8)).strftime("%Y-%m-%dT%H:%M")
            page.fill("input[name=needle_at]", needle)
            # The registry population of the dashboard's DTN: an adult ischaemic stroke.
            page.select_option("select[name=final_diagnosis]", "ischemic")
            page.fill("input[name=age_years]", "67")
            page.click("#save-timeline")
            expect(page.locator("table.measures")).to_contain_text("42 min")
            # The acknowledgement is recorded by the notifications library (one source of truth).
            expect(page.locator(".alert-item")).to_contain_text("Dr Stroke_Team via web")
            page.screenshot(path=str(output_dir / "case_viewer.png"), full_page=True)

            page.goto(base + "/dashboard")
            # Median of 38, 42 and 72 minutes; 2 of 3 within 60 minutes.
            expect(page.locator("#dtn-median")).to_contain_text("42")
            expect(page.locator("#dtn-le-60")).to_contain_text("67")
            page.screenshot(path=str(output_dir / "dashboard.png"), full_page=True)
            browser.close()
    finally:
        web.stop()
    for name in ("worklist", "case_viewer", "dashboard"):
        assert (output_dir / f"{name}.png").stat().st_size > 20_000
