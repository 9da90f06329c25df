"""The key image a phone fetches through its signed link is de-identified: the LVO MIP the real
analysis draws from a CTA whose header names the patient carries no name, MRN, birth date,
accession number or UID in its PNG metadata, its bytes or (read by tesseract OCR) its pixels."""

from __future__ import annotations

import dataclasses
import io
import shutil
import subprocess
from datetime import UTC, datetime

import pydicom
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from notifications.relay import Links
from strokealert import alerting
from strokealert.lvo import analyze_files
from strokealert.phantoms.cta import TRAIN, draw_case, render, write_dicom
from tests.api.helpers import make_env, new_case

PUBLIC_URL = "https://stroke.example.org"


@pytest.fixture(scope="module")
def fetched(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, set[str]]:
    """(PNG bytes fetched through the signed link, the header's identifiers)."""
    root = tmp_path_factory.mktemp("deid")
    spec = dataclasses.replace(draw_case(11, TRAIN, lvo_site="M1", quality="good"),
                               spacing_mm=(2.0, 2.0, 2.0), collateral=0.1, phase="arterial",
                               arterial_enh_hu=320.0, venous_enh_hu=60.0, side="left")
    write_dicom(render(spec), root / "in")
    files = sorted((root / "in" / "dicom").glob("*.dcm"))
    header = pydicom.dcmread(files[0], stop_before_pixels=True)
    name = str(header.PatientName)
    identifiers = {name, *name.split("^"), header.PatientID, header.PatientBirthDate,
                   header.StudyInstanceUID, header.SeriesInstanceUID, header.SOPInstanceUID}
    if header.get("AccessionNumber"):
        identifiers.add(str(header.AccessionNumber))
    block = analyze_files(files, root / "case" / "lvo")
    assert block["key_images"][0] == "lvo_mip.png"

    env = make_env(root / "var", public_url=PUBLIC_URL, escalation_policy="")
    case_id = new_case(env.factory, header.StudyInstanceUID, output_dir=str(root / "case"))
    with env.factory.begin() as session:
        alert_id = alerting.raise_alert(
            session, env.settings, case_id=case_id, level="critical", kind="new",
            title="LVO suspected: left M1", body="p=0.97", site="Main campus CT2",
            url=f"{PUBLIC_URL}/cases/{case_id}", key_images=["lvo/lvo_mip.png"])
    links = Links(PUBLIC_URL, alerting.signing_secret(env.settings))
    url = links.image_url(alert_id, 0, datetime.now(UTC), "push")
    response = TestClient(env.app).get(url.removeprefix(PUBLIC_URL))
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    return response.content, identifiers


def test_png_metadata_and_bytes_carry_no_identifier(fetched: tuple[bytes, set[str]]) -> None:
    png, identifiers = fetched
    image = Image.open(io.BytesIO(png))
    assert image.size[0] >= 256
    chunks = " ".join(f"{k}={v}" for k, v in image.info.items()).upper()
    for value in identifiers:
        assert value.upper() not in chunks, f"{value!r} in the PNG's metadata"
        assert value.encode() not in png, f"{value!r} in the PNG's bytes"
    assert b"tEXt" not in png and b"iTXt" not in png and b"zTXt" not in png


def ocr(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    result = subprocess.run(["tesseract", "stdin", "stdout"], input=buffer.getvalue(),
                            capture_output=True, timeout=60, check=True)
    return result.stdout.decode(errors="replace").upper()


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr is not installed")
def test_pixels_show_no_identifier(fetched: tuple[bytes, set[str]]) -> None:
    png, identifiers = fetched
    image = Image.open(io.BytesIO(png)).convert("RGB")
    text = ocr(image)
    assert "DIAGNOSTIC" in text  # the OCR reads the image's own caption
    words = {v.upper() for v in identifiers if len(v) >= 3 and not v[0].isdigit()}
    for value in words:
        assert value not in text, f"{value!r} burned into the key image"
    # The same check catches a name burned in the way the caption is drawn.
    burned = image.copy()
    ImageDraw.Draw(burned).text((4, 4), " ".join(sorted(words)), fill=(255, 255, 255))
    assert any(value in ocr(burned) for value in words)
