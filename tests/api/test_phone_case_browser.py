"""Headless Chromium at phone size (360 × 740): the case view a tapped alert opens shows the key
image first, scrolls the series (key images and perfusion maps) with window/level, lists the
findings without patient identifiers, and acknowledges; screenshots under test-output/."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from notifications.models import Acknowledgement, Escalation, OutboxMessage
from strokealert import alerting
from strokealert.api.server import WebComponent
from strokealert.cases import upsert_case_from_analysis
from tests.api.helpers import PASSWORD, get_case, make_env
from tests.api.test_api_browser import ARGS, CHROMIUM, write_outputs

CANVAS_CENTRE = """() => {
  const c = document.getElementById('stack-canvas');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let sum = 0; for (let i = 0; i < d.length; i += 4) sum += d[i] + d[i + 1] + d[i + 2];
  return sum;
}"""


@pytest.mark.timeout(120)
def test_phone_case_view_at_360_px(tmp_path: Path, output_dir: Path, free_port: int) -> None:
    from playwright.sync_api import expect, sync_playwright

    env = make_env(tmp_path, timezone="UTC")
    result = write_outputs(tmp_path / "outputs" / "case1")
    with env.factory.begin() as session:
        case = upsert_case_from_analysis(session, study=None, result=result,
                                         output_dirs=[tmp_path / "outputs" / "case1"])
        case.patient_name = "QUIXOTE^ZELDA"
        case_id = case.id
        other = upsert_case_from_analysis(session, study=None,
                                          result={**result, "study_instance_uid": "1.2.826.9"},
                                          output_dirs=[tmp_path / "outputs" / "case1"])
        other_id = other.id
        alerting.raise_alert(session, env.settings, case_id=other_id, level="critical",
                             kind="new", title=other.title or "", body=other.summary or "",
                             site=other.site, url=f"http://127.0.0.1/cases/{other_id}")
    web = WebComponent(env.settings, env.factory, port=free_port)
    web.start()
    base = f"http://127.0.0.1:{free_port}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 360, "height": 740},
                                    device_scale_factor=2, is_mobile=True, has_touch=True)
            page.goto(base + f"/cases/{case_id}/phone")
            page.fill("input[name=username]", "stroke_team")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.goto(base + f"/cases/{case_id}/phone")
            expect(page.locator("h1")).to_contain_text("LVO suspected")
            key = page.locator("#key-images img").first
            expect(key).to_be_visible()
            assert page.evaluate("(img) => img.naturalWidth", key.element_handle()) == 480
            # The key image comes before the findings, and nothing is wider than the phone.
            assert key.bounding_box()["y"] < page.locator(".findings").bounding_box()["y"]
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            assert "QUIXOTE" not in page.content() and "ZELDA" not in page.content()
            expect(page.locator(".findings")).to_contain_text("Core")

            # The stack: the key image first; window/level changes what is drawn.
            canvas = page.locator("#stack-canvas")
            expect(canvas).to_have_attribute("data-src", f"{base}/cases/{case_id}/images/0")
            before = page.evaluate(CANVAS_CENTRE)
            page.locator("input[name=window]").fill("40")
            page.locator("input[name=level]").fill("200")
            assert page.evaluate(CANVAS_CENTRE) != before
            page.click("#wl-reset")
            assert page.evaluate(CANVAS_CENTRE) == before
            # The Tmax map: 8 slices, middle first; dragging scrolls through them.
            page.click(".stack .tab:has-text('TMAX')")
            expect(canvas).to_have_attribute("data-src", f"{base}/cases/{case_id}/maps/tmax/4")
            expect(page.locator("#slice-out")).to_have_text("5 / 8")
            box = canvas.bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 20)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 50, steps=5)
            page.mouse.up()
            expect(page.locator("#slice-out")).to_have_text("7 / 8")
            expect(canvas).to_have_attribute("data-src", f"{base}/cases/{case_id}/maps/tmax/6")
            page.locator("#stack").scroll_into_view_if_needed()
            page.screenshot(path=str(output_dir / "phone_case.png"), full_page=True)

            page.click("#phone-ack-button")
            expect(page.locator("#phone-ack")).to_contain_text(
                "Acknowledged — first response by Dr Stroke_Team")
            page.screenshot(path=str(output_dir / "phone_case_acknowledged.png"))

            # Another case: "not a candidate" takes a second tap, then stops the paging.
            page.goto(base + f"/cases/{other_id}/phone")
            button = page.locator("#not-candidate-button")
            button.click()
            expect(button).to_contain_text("Tap again")
            with env.factory() as session:
                assert session.scalar(select(Acknowledgement)) is None
            button.click()
            expect(page.locator("#phone-ack")).to_contain_text(
                "Not a candidate — first response by Dr Stroke_Team")
            page.screenshot(path=str(output_dir / "phone_case_not_candidate.png"))
            browser.close()
    finally:
        web.stop()
    assert get_case(env.factory, case_id).first_ack_by == "Dr Stroke_Team"
    assert (output_dir / "phone_case.png").stat().st_size > 20_000
    with env.factory() as session:
        [ack] = session.scalars(select(Acknowledgement)).all()
        assert (ack.case_id, ack.via) == (other_id, "not_candidate")
        escalation = session.scalar(select(Escalation).where(Escalation.case_id == other_id))
        assert escalation.status == "acknowledged"
        told = [r.payload["title"] for r in session.scalars(select(OutboxMessage).where(
            OutboxMessage.purpose == "broadcast", OutboxMessage.step == "ack"))]
        assert told == ["Dr Stroke_Team: not a candidate"]
