"""The CTA slab on the phone: slice i rendered as PNG in the window/level asked for in HU (login
required, each view audited, bad windows refused with 422), and the stack viewer's tab."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from strokealert.cases import upsert_case_from_analysis
from strokealert.contracts.outputs import CTA_SLAB_FILE
from strokealert.db.models.audit import AuditEvent
from strokealert.lvo.slab import Slab
from tests.api.helpers import login, make_env
from tests.api.test_api_browser import write_outputs

VESSEL_HU = 300  # the bright disc in every slice
SLICES = 12


def write_cta_slab(folder: Path) -> None:
    """A slab as the LVO analysis saves it: brain at 40 HU, bone ring at 1200 HU, and a 300 HU
    vessel whose size grows with the slice (so scrolling changes the picture)."""
    z, y, x = np.mgrid[0:SLICES, 0:96, 0:96]
    r2 = (x - 48) ** 2 + (y - 48) ** 2
    hu = np.where(r2 < 44 ** 2, 40, -1000)
    hu[(r2 >= 40 ** 2) & (r2 < 44 ** 2)] = 1200
    hu[(x - 30) ** 2 + (y - 48) ** 2 < (2 + z) ** 2] = VESSEL_HU
    Slab(hu.astype(np.int16), (2.0, 0.5, 0.5), 5.0).save(folder)


def case_with_slab(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = make_env(tmp_path, timezone="UTC")
    folder = tmp_path / "outputs" / "case1"
    result = write_outputs(folder)
    write_cta_slab(folder)
    with env.factory.begin() as session:
        case_id = upsert_case_from_analysis(session, study=None, result=result,
                                            output_dirs=[folder]).id
    return env, case_id, folder


def grey(response) -> np.ndarray:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(response.content)) as image:
        return np.asarray(image.convert("L"), dtype=np.int16)


def test_cta_slice_route_window_level_audit_and_422(tmp_path: Path) -> None:
    env, case_id, _ = case_with_slab(tmp_path)
    client = TestClient(env.app)
    assert client.get(f"/cases/{case_id}/cta/3").status_code == 401
    login(client, "stroke_team")

    angio = grey(client.get(f"/cases/{case_id}/cta/3"))  # default window C 300 W 700
    assert angio.shape == (192, 192)  # 96 px shown twice as large (pixel (y, x) at 2y, 2x)
    assert angio[96, 60] == 128 and angio[96, 96] == 33  # 300 HU mid-grey, 40 HU dark
    assert angio[96, 4] == 0 and angio[96, 180] == 255  # air black, bone white
    brain = grey(client.get(f"/cases/{case_id}/cta/3", params={"c": 40, "w": 80}))
    assert brain[96, 96] == 128 and brain[96, 60] == 255  # brain window: the vessel saturates
    assert not np.array_equal(angio, brain)
    deeper = grey(client.get(f"/cases/{case_id}/cta/{SLICES - 1}"))
    assert (deeper == 128).sum() > (angio == 128).sum()  # the vessel grows with the slice

    views = [(e.object_id, e.username, e.detail) for e in client_events(env)]
    assert views == [(case_id, "stroke_team", {"via": "cta_slab", "slice": 3, "c": 300.0,
                                               "w": 700.0}),
                     (case_id, "stroke_team", {"via": "cta_slab", "slice": 3, "c": 40.0,
                                               "w": 80.0}),
                     (case_id, "stroke_team", {"via": "cta_slab", "slice": SLICES - 1,
                                               "c": 300.0, "w": 700.0})]
    for bad in ({"c": "abc"}, {"w": "0"}, {"w": "-5"}, {"w": "nan"}, {"c": "inf"},
                {"c": "5000"}, {"w": "9000"}):
        refused = client.get(f"/cases/{case_id}/cta/3", params=bad)
        assert refused.status_code == 422, (bad, refused.status_code)
    assert client.get(f"/cases/{case_id}/cta/{SLICES}").status_code == 404
    assert client.get(f"/cases/{case_id}/cta/-1").status_code == 404
    assert client.get("/cases/no-such-case/cta/0").status_code == 404
    assert len(client_events(env)) == 3  # refusals show nothing and audit nothing

    phone = client.get(f"/cases/{case_id}/phone")
    assert "CTA slab" in phone.text and f"/cases/{case_id}/cta/{{z}}" in phone.text


def test_unreadable_slab_is_no_tab_and_404(tmp_path: Path) -> None:
    env, case_id, folder = case_with_slab(tmp_path)
    (folder / CTA_SLAB_FILE).write_bytes(b"not a slab")
    client = TestClient(env.app)
    login(client, "radiologist")
    assert client.get(f"/cases/{case_id}/cta/0").status_code == 404
    phone = client.get(f"/cases/{case_id}/phone")
    assert phone.status_code == 200 and "CTA slab" not in phone.text


def client_events(env) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with env.factory() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "phi_view")
                                    .order_by(AuditEvent.id)))
