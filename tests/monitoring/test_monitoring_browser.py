"""Headless Chromium: a radiologist confirms a case in two taps on the case view; the
monitoring page shows the figures and the drift banner; a coordinator opens the monthly model
performance report. Screenshots under the test's output folder (test-output/)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from strokealert.api.server import WebComponent
from strokealert.db.models.audit import AuditEvent
from strokealert.monitoring import confirmations
from strokealert.monitoring.fingerprint import InputValues
from strokealert.pipeline.monitor import check_alarms
from tests.api.helpers import PASSWORD, make_env
from tests.api.test_api_browser import ARGS, CHROMIUM
from tests.monitoring.conftest import add_case, confirm, lvo_block


@pytest.mark.timeout(120)
def test_confirm_on_the_case_view_then_monitoring_page_and_monthly_report(
        tmp_path: Path, output_dir: Path, free_port: int) -> None:
    from playwright.sync_api import expect, sync_playwright

    env = make_env(tmp_path, timezone="UTC", monitoring={"drift_min_cases": 30})
    rng = random.Random(7)
    now = datetime.now(UTC).replace(microsecond=0)
    with env.factory.begin() as session:
        for i in range(60):  # two months of cases like the training ones, most confirmed
            at = now - timedelta(hours=24 * 60 - 23 * i)
            truth = rng.random() < 0.4
            positive = truth if rng.random() > 0.15 else not truth
            case = add_case(session, lvo_block(positive=positive),
                            InputValues(kernel="Hv40", scanner_model="SOMATOM Force",
                                        slice_thickness_mm=rng.choice((1.5, 2.0, 2.5)),
                                        noise_hu=rng.choice((6.0, 10.0, 15.0)),
                                        age_band=rng.choice(("50-64", "65-79", "≥80")),
                                        sex=rng.choice("FM")), at)
            if i % 6:
                confirm(session, case, at + timedelta(hours=3), lvo=truth)
        for i in range(30):  # then a new scanner kernel with another noise texture
            add_case(session, lvo_block(positive=False),
                     InputValues(kernel="Br64", scanner_model="SOMATOM Force",
                                 slice_thickness_mm=2.0, noise_hu=3.0,
                                 age_band="65-79", sex="F"), now - timedelta(hours=30 - i))
        check_alarms(session, env.settings, env.factory, "lvo", now)
        target = add_case(session, lvo_block(positive=True), InputValues(kernel="Hv40"),
                          now - timedelta(minutes=20))
        case_id = target.id
    web = WebComponent(env.settings, env.factory, port=free_port)
    web.start()
    base = f"http://127.0.0.1:{free_port}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/cases/{case_id}")
            page.fill("input[name=username]", "radiologist")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            state = page.locator("#confirmation-state")
            expect(state).to_contain_text("Unconfirmed")
            page.click("#confirm-lvo-M1")  # tap 1: LVO yes, M1
            page.click("#confirm-haemorrhage-no")  # tap 2: no haemorrhage
            expect(state).to_contain_text("Confirmed by radiologist")
            expect(state).to_contain_text("LVO yes M1")
            expect(state).to_contain_text("haemorrhage no")
            page.locator("#confirmation").screenshot(path=str(output_dir / "confirmation.png"))

            page.goto(f"{base}/monitoring")
            expect(page.locator("#monitoring-banner")).to_contain_text("input drift")
            expect(page.locator(".monitor-model[data-model='lvo-cnn@3']")).to_be_visible()
            expect(page.locator(".drift-score")).to_be_visible()
            expect(page.locator("table.subgroups")).to_contain_text("Br64")
            page.screenshot(path=str(output_dir / "monitoring.png"), full_page=True)

            coordinator = browser.new_page(viewport={"width": 1100, "height": 900})
            coordinator.goto(f"{base}/monitoring/report?month={now.strftime('%Y-%m')}")
            coordinator.fill("input[name=username]", "coordinator")
            coordinator.fill("input[name=password]", PASSWORD)
            coordinator.click("button[type=submit]")
            expect(coordinator.locator("h1")).to_contain_text("Model performance report")
            expect(coordinator.locator("#analysis-lvo")).to_contain_text("Model lvo-cnn@3")
            expect(coordinator.locator("body")).to_contain_text("input drift")
            coordinator.screenshot(path=str(output_dir / "model_report.png"), full_page=True)
            browser.close()
    finally:
        web.stop()
    with env.factory() as session:
        row = confirmations.confirmation_of(session, case_id)
        assert row is not None and (row.lvo, row.lvo_site, row.haemorrhage) == (True, "M1", False)
        actions = {(e.action, e.username) for e in session.scalars(select(AuditEvent))}
    assert {("confirmation", "radiologist"), ("monitoring_view", "radiologist"),
            ("export", "coordinator")} <= actions
    for name in ("confirmation", "monitoring", "model_report"):
        assert (output_dir / f"{name}.png").stat().st_size > 10_000
