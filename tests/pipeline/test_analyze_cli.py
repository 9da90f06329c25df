"""``strokealert analyze --json``: the ``strokealert.analysis/1`` contract on a CTP study, and
the analysis of an NCCT-only study (haemorrhage alert, its DICOM results)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import highdicom as hd
import pydicom
import pytest

from strokealert.contracts.analysis import AnalysisResult
from strokealert.phantoms.ctp import CtpPhantomOptions, write_ctp_phantom
from strokealert.phantoms.ncct_families import NcctLabel, geometric, write_case
from strokealert.pipeline.analysis import analyze_paths

CLI = [sys.executable, "-m", "strokealert"]


def test_analyze_json_on_a_ctp_study(tmp_path: Path) -> None:
    truth = write_ctp_phantom(tmp_path / "in", CtpPhantomOptions(
        matrix=96, slices=4, frames=24, interval_s=1.8, noise_hu=5.0, seed=5))
    out = tmp_path / "out"
    done = subprocess.run([*CLI, "analyze", str(tmp_path / "in"), "--out", str(out), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["schema"] == "strokealert.analysis/1"
    assert result["study_instance_uid"] == truth["study_instance_uid"]
    assert [s["kind"] for s in result["series"]] == ["ctp"]
    perfusion = result["perfusion"]
    assert perfusion["status"] == "ok" and perfusion["side"] == truth["side"]
    assert (out / perfusion["maps"]["core"]).is_file()
    assert result["lvo"] == {"status": "not_run", "error": None}
    assert result["ncct"] == {"status": "not_run", "error": None}
    assert result["alert"]["level"] == "critical"
    assert result["alert"]["rules"] == ["defuse3_mismatch"]
    assert set(result["timings_s"]) == {"total", "perfusion", "lvo", "ncct"}
    modalities = {pydicom.dcmread(out / name).Modality for name in result["dicom_results"]}
    assert modalities == {"OT", "SEG", "SR"}
    # Every DICOM object is written once, by results/, under out/dicom.
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.dcm")) == sorted(
        result["dicom_results"])
    seg_name = next(n for n in result["dicom_results"] if "SEG" in n)
    seg = hd.seg.segread(out / seg_name)
    assert seg.StudyInstanceUID == truth["study_instance_uid"]


def test_analyze_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not DICOM")
    for target in (tmp_path / "missing", tmp_path):
        done = subprocess.run([*CLI, "analyze", str(target)], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 2
        assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr


def test_an_ncct_only_study_is_analysed_and_a_bleed_is_critical(tmp_path: Path) -> None:
    truth = write_case(geometric.render(3, NcctLabel(bleeds=("intraparenchymal",)), matrix=96),
                       tmp_path / "in")
    result = analyze_paths([tmp_path / "in" / "dicom"], tmp_path / "out")
    AnalysisResult.model_validate(result)
    assert [s["kind"] for s in result["series"]] == ["ncct"]
    ich = result["ncct"]["ich"]
    assert result["ncct"]["status"] == "ok" and ich["suspected"]
    assert ich["kinds"] == ["intraparenchymal"]
    assert ich["volume_ml"] == pytest.approx(truth["blood_volume_ml"], rel=0.25)
    assert result["alert"]["level"] == "critical" and result["alert"]["rules"] == ["ich_suspected"]
    assert result["alert"]["reasons"][0].startswith("Haemorrhage suspected: intraparenchymal, ")
    source = pydicom.dcmread(next((tmp_path / "in" / "dicom").glob("*.dcm")))
    objects = [pydicom.dcmread(tmp_path / "out" / name) for name in result["dicom_results"]]
    assert {ds.Modality for ds in objects} >= {"OT", "SEG", "SR"}
    assert {ds.StudyInstanceUID for ds in objects} == {source.StudyInstanceUID}
    key_images = [ds for ds in objects if ds.Modality == "OT"]
    assert len(key_images) == 2  # the haemorrhage and the ASPECTS regions
    for key_image in key_images:
        assert key_image.ReferencedSeriesSequence[0].SeriesInstanceUID == \
            source.SeriesInstanceUID
