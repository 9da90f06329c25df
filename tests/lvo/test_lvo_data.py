"""Loaders for a hospital's own cases: ISLES'24 layout and DICOM folders + labels.csv."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from strokealert.errors import InputError
from strokealert.lvo.dataset import dicom_cases, isles_cases, read_nifti_lps, real_samples
from strokealert.lvo.model import CLASSES, class_index
from strokealert.lvo.vessels import FEATURES
from strokealert.phantoms.cta import Rendered, write_dicom


def _write_nifti_ras(volume_zyx_lps: np.ndarray, spacing: tuple[float, float, float],
                     path: Path) -> None:
    """Store an LPS (z, y, x) array the way ISLES does: RAS+ NIfTI."""
    data = np.transpose(volume_zyx_lps, (2, 1, 0))[::-1, ::-1, :]
    affine = np.diag([spacing[2], spacing[1], spacing[0], 1.0])
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.ascontiguousarray(data, dtype=np.int16), affine), str(path))


def test_isles_layout_reads_cta_and_lvo_mask_side(tmp_path: Path, m1_left: Rendered) -> None:
    volume = np.rint(m1_left.volume_hu).astype(np.int16)
    raw = tmp_path / "raw_data" / "sub-stroke0001" / "ses-01"
    _write_nifti_ras(volume, m1_left.spacing_mm, raw / "sub-stroke0001_ses-01_cta.nii.gz")
    mask = np.zeros_like(volume)
    nz, ny, nx = volume.shape
    mask[nz // 2:nz // 2 + 3, ny // 2:ny // 2 + 3, nx // 2 + 15:nx // 2 + 18] = 1  # patient left
    derivatives = tmp_path / "derivatives" / "sub-stroke0001" / "ses-01"
    _write_nifti_ras(mask, m1_left.spacing_mm,
                     derivatives / "sub-stroke0001_ses-01_lvo-msk.nii.gz")
    _write_nifti_ras(volume, m1_left.spacing_mm,
                     tmp_path / "raw_data" / "sub-stroke0002" / "ses-01" /
                     "sub-stroke0002_ses-01_cta.nii.gz")
    _write_nifti_ras(np.zeros_like(mask), m1_left.spacing_mm, tmp_path / "derivatives" /
                     "sub-stroke0002" / "ses-01" / "sub-stroke0002_ses-01_lvo-msk.nii.gz")

    back, spacing, _ = read_nifti_lps(raw / "sub-stroke0001_ses-01_cta.nii.gz")
    assert spacing == m1_left.spacing_mm and np.array_equal(back, volume)
    records = {r.case: r for r in isles_cases(tmp_path)}
    assert records["sub-stroke0001"].lvo and records["sub-stroke0001"].side == "left"
    assert not records["sub-stroke0002"].lvo
    samples = list(real_samples(tmp_path, "isles"))
    assert [(s.site, s.side) for s in samples] == [("M1", "left"), (None, "none")]
    assert [class_index(s.site) for s in samples] == [CLASSES.index("M1"), 0]
    assert len(samples[0].features) == len(FEATURES) and np.isfinite(samples[0].features).all()


def test_dicom_folders_with_labels_csv(tmp_path: Path, normal: Rendered) -> None:
    small = Rendered(normal.volume_hu[::2], (4.0, 2.0, 2.0), normal.origin_mm, normal.spec,
                     normal.rotation, normal.centre_mm)
    write_dicom(small, tmp_path / "case-a")
    (tmp_path / "labels.csv").write_text("case,lvo,side,site\ncase-a,0,none,\n")
    records = dicom_cases(tmp_path)
    assert [(r.case, r.lvo, r.site) for r in records] == [("case-a", False, None)]
    (sample,) = list(real_samples(tmp_path, "dicom"))
    assert sample.site is None and sample.kind == "normal" and sample.quality_ok
    (tmp_path / "labels.csv").write_text("case,lvo,side,site\ncase-a,1,none,M1\n")
    with pytest.raises(InputError, match="needs its side"):
        dicom_cases(tmp_path)
    (tmp_path / "labels.csv").write_text("case,lvo,side,site\ncase-b,0,none,\n")
    with pytest.raises(InputError, match="is not a folder"):
        dicom_cases(tmp_path)
