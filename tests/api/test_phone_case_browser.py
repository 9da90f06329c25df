"""Headless Chromium at phone size (360 × 740): the case view a tapped alert opens shows the key
image first, scrolls the series (key images, the CTA slab in HU windows, perfusion maps) with
window/level, lists the findings without patient identifiers, and acknowledges; screenshots
under test-output/."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from notifications.models import Acknowledgement, Escalation, OutboxMessage
from strokealert import alerting
from strokealert.api.server import WebComponent
from strokealert.cases import upsert_case_from_analysis
from strokealert.db.models.audit import AuditEvent
from tests.api.helpers import PASSWORD, get_case, make_env
from tests.api.test_api_browser import ARGS, CHROMIUM, write_outputs
from tests.api.test_cta_slab_route import write_cta_slab

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
    write_cta_slab(tmp_path / "outputs" / "case1")
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
            drag_down(page, canvas)
            expect(page.locator("#slice-out")).to_have_text("7 / 8")
            expect(canvas).to_have_attribute("data-src", f"{base}/cases/{case_id}/maps/tmax/6")
            expect(page.locator("#wl-presets")).to_be_hidden()
            page.locator("#stack").scroll_into_view_if_needed()
            page.screenshot(path=str(output_dir / "phone_case.png"), full_page=True)

            # The CTA slab: 12 slices rendered by the server in the angio window (HU), the
            # middle first; dragging scrolls; a preset and the window slider fetch new pixels.
            cta = f"{base}/cases/{case_id}/cta"
            page.click(".stack .tab:has-text('CTA slab')")
            expect(canvas).to_have_attribute("data-src", f"{cta}/6?c=300&w=700")
            expect(page.locator("#slice-out")).to_have_text("7 / 12")
            expect(page.locator("#wl-out")).to_have_text("C 300 W 700 HU")
            drag_down(page, canvas)
            expect(page.locator("#slice-out")).to_have_text("9 / 12")
            expect(canvas).to_have_attribute("data-src", f"{cta}/8?c=300&w=700")
            angio = page.evaluate(CANVAS_CENTRE)
            page.click("#wl-presets button:has-text('Brain')")
            expect(canvas).to_have_attribute("data-src", f"{cta}/8?c=40&w=80")
            brain = page.evaluate(CANVAS_CENTRE)
            assert brain != angio
            page.locator("input[name=window]").fill("1000")
            expect(page.locator("#wl-out")).to_have_text("C 40 W 1000 HU")
            expect(canvas).to_have_attribute("data-src", f"{cta}/8?c=40&w=1000")
            assert page.evaluate(CANVAS_CENTRE) not in (angio, brain)
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            page.locator("#stack").scroll_into_view_if_needed()
            page.screenshot(path=str(output_dir / "phone_case_cta_slab.png"))
            page.click("#wl-reset")
            expect(canvas).to_have_attribute("data-src", f"{cta}/8?c=300&w=700")

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
    assert (output_dir / "phone_case_cta_slab.png").stat().st_size > 20_000
    with env.factory() as session:
        [ack] = session.scalars(select(Acknowledgement)).all()
        assert (ack.case_id, ack.via) == (other_id, "not_candidate")
        escalation = session.scalar(select(Escalation).where(Escalation.case_id == other_id))
        assert escalation.status == "acknowledged"
        told = [r.payload["title"] for r in session.scalars(select(OutboxMessage).where(
            OutboxMessage.purpose == "broadcast", OutboxMessage.step == "ack"))]
        assert told == ["Dr Stroke_Team: not a candidate"]
        shown = [(e.detail["slice"], e.detail["c"], e.detail["w"]) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.action == "phi_view").order_by(AuditEvent.id))
            if e.detail.get("via") == "cta_slab"]
        # Each slice shown was audited once (the reset's slice came from the browser's cache).
        assert shown[0] == (6, 300.0, 700.0) and len(shown) == len(set(shown))
        assert {(8, 300.0, 700.0), (8, 40.0, 80.0), (8, 40.0, 1000.0)} <= set(shown)


def drag_down(page, canvas) -> None:  # type: ignore[no-untyped-def]
    """Drag 30 px down the stack's image: two slices on (one per 12 px)."""
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 50, steps=5)
    page.mouse.up()
