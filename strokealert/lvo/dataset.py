"""Training/evaluation samples: synthetic CTA generated on the fly, or a hospital's own cases.

A sample is what the model consumes after preprocessing (canvas + asymmetry features) plus
its label and the strata used in the evaluation table. Real data comes from two layouts:

* ISLES'24: ``**/*cta.nii.gz`` with an optional ``**/*lvo-msk*.nii.gz`` of the same subject
  (non-empty mask = LVO, side from the mask centroid) and an optional ``labels.csv``
  (``case,lvo,side,site``) that overrides or completes the labels;
* a folder of DICOM studies (one sub-folder per case) with ``labels.csv`` (``case,lvo,side,site``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from strokealert.errors import InputError
from strokealert.lvo import asymmetry, preprocess, quality
from strokealert.lvo.model import class_index
from strokealert.phantoms.cta import HELDOUT, TRAIN, Profile, draw_case, render


@dataclass
class Sample:
    """One preprocessed case with its label and strata."""

    case: str
    canvas: np.ndarray  # (128, 80) float16
    asym: np.ndarray  # (5,) asymmetry features for fusion
    asym_side: str
    label: int  # index into model.CLASSES
    site: str | None
    side: str
    quality_ok: bool
    strata: dict[str, str]


def sample_from_volume(case: str, volume_hu: np.ndarray, spacing_mm: Sequence[float],
                       site: str | None, side: str, strata: dict[str, str]) -> Sample:
    canon = preprocess.canonicalise(volume_hu, spacing_mm)
    asym = asymmetry.analyse(canon.vessel)
    gate = quality.check(canon)
    return Sample(case, preprocess.canvas(canon.vessel).astype(np.float16), asym.features(),
                  asym.side, class_index(site, side), site, side, gate.ok, strata)


def synthetic_sample(seed: int, profile: Profile = TRAIN) -> Sample:
    """Generate, render and preprocess synthetic case ``seed`` (≈ 1 s on one core)."""
    spec = draw_case(seed, profile)
    rendered = render(spec)
    strata = {"phase": spec.phase, "noise": f"{spec.noise_hu:g} HU",
              "slice": f"{spec.spacing_mm[0]:g} mm", "quality": spec.quality,
              "negative": spec.negative_kind or "-"}
    return sample_from_volume(f"{profile.name}-{seed}", rendered.volume_hu, rendered.spacing_mm,
                              spec.lvo_site, spec.side, strata)


def _synthetic_worker(args: tuple[int, str]) -> Sample:
    seed, profile_name = args
    import torch

    torch.set_num_threads(1)
    return synthetic_sample(seed, {"train": TRAIN, "heldout": HELDOUT}[profile_name])


def generate(seeds: Sequence[int], profile: Profile, workers: int = 1,
             desc: str = "generating") -> list[Sample]:
    """Synthetic samples for ``seeds`` with a progress bar (``workers`` processes)."""
    jobs = [(int(s), profile.name) for s in seeds]
    if workers <= 1:
        return [_synthetic_worker(j) for j in tqdm(jobs, desc=desc, unit="case")]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(tqdm(pool.map(_synthetic_worker, jobs, chunksize=8), total=len(jobs),
                         desc=desc, unit="case"))


def save_samples(samples: Sequence[Sample], path: Path) -> None:
    """Cache samples in one ``.npz`` (labels and strata as JSON-able arrays)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path, canvas=np.stack([s.canvas for s in samples]),
        asym=np.stack([s.asym for s in samples]),
        label=np.array([s.label for s in samples]),
        meta=np.array([repr((s.case, s.asym_side, s.site, s.side, s.quality_ok, s.strata))
                       for s in samples]))


def load_samples(path: Path) -> list[Sample]:
    import ast

    data = np.load(path, allow_pickle=False)
    out = []
    for canvas, asym, label, meta in zip(data["canvas"], data["asym"], data["label"],
                                         data["meta"], strict=True):
        case, asym_side, site, side, ok, strata = ast.literal_eval(str(meta))
        out.append(Sample(case, canvas, asym, asym_side, int(label), site, side, ok, strata))
    return out


# --- real data ------------------------------------------------------------------------------

@dataclass(frozen=True)
class CaseRecord:
    """A real case on disk and its label."""

    case: str
    path: Path  # NIfTI file or DICOM folder
    lvo: bool
    side: str
    site: str | None


def read_labels(path: Path) -> dict[str, dict[str, str]]:
    """``labels.csv`` with columns case, lvo (0/1), side (left/right/none), site (or empty)."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if rows and not {"case", "lvo"} <= set(rows[0]):
        raise InputError(f"{path} needs the columns case,lvo[,side,site]")
    return {row["case"].strip(): row for row in rows}


def _label_fields(row: dict[str, str]) -> tuple[bool, str, str | None]:
    lvo = str(row.get("lvo", "0")).strip().lower() in ("1", "true", "yes")
    side = (row.get("side") or "none").strip().lower() or "none"
    site = (row.get("site") or "").strip() or None
    if site is not None and site not in ("ICA", "M1", "M2", "basilar"):
        raise InputError(f"unknown site {site!r} in labels (ICA, M1, M2 or basilar)")
    if side not in ("left", "right", "none"):
        raise InputError(f"unknown side {side!r} in labels (left, right or none)")
    if lvo and site != "basilar" and side == "none":
        raise InputError(f"case {row.get('case')}: an anterior LVO needs its side (left/right)")
    return lvo, side, site if lvo else None


def read_nifti_lps(path: Path) -> tuple[np.ndarray, tuple[float, float, float], np.ndarray]:
    """A NIfTI volume as (z, y, x) in LPS order, its spacing, and the LPS affine."""
    import nibabel as nib

    image = nib.as_closest_canonical(nib.load(str(path)))  # RAS+
    data = np.asarray(image.dataobj, dtype=np.float32)[::-1, ::-1, :]  # → LPS+
    zooms = image.header.get_zooms()[:3]
    affine = image.affine.copy()
    volume = np.ascontiguousarray(np.transpose(data, (2, 1, 0)))
    return volume, (float(zooms[2]), float(zooms[1]), float(zooms[0])), affine


def isles_cases(root: Path) -> list[CaseRecord]:
    """Cases of an ISLES'24-style tree (see the module docstring)."""
    subject = re.compile(r"(sub-[A-Za-z0-9]+)")
    ctas = sorted(p for p in root.rglob("*cta.nii*") if "msk" not in p.name)
    if not ctas:
        raise InputError(f"no *cta.nii.gz under {root}")
    masks = {m.group(1): p for p in root.rglob("*lvo-msk*.nii*")
             if (m := subject.search(p.name))}
    labels = read_labels(root / "labels.csv") if (root / "labels.csv").exists() else {}
    records = []
    for cta in ctas:
        match = subject.search(cta.name)
        case = match.group(1) if match else cta.name.split(".")[0]
        if case in labels:
            lvo, side, site = _label_fields(labels[case])
        elif case in masks:
            mask, _, _ = read_nifti_lps(masks[case])
            lvo = bool(mask.any())
            side = "none"
            if lvo:
                # x index rises towards patient left (LPS); compare with the head's midline.
                volume, _, _ = read_nifti_lps(cta)
                head_x = np.nonzero((volume > -300).any(axis=(0, 1)))[0]
                mid = (head_x[0] + head_x[-1]) / 2 if head_x.size else mask.shape[2] / 2
                side = "left" if np.nonzero(mask)[2].mean() > mid else "right"
            site = None
        else:
            raise InputError(f"{case}: no lvo-msk and no row in labels.csv")
        records.append(CaseRecord(case, cta, lvo, side, site))
    return records


def dicom_cases(root: Path) -> list[CaseRecord]:
    """Cases of a folder of DICOM studies (one sub-folder each) with ``labels.csv``."""
    labels_path = root / "labels.csv"
    if not labels_path.exists():
        raise InputError(f"{labels_path} is missing (columns case,lvo,side,site)")
    labels = read_labels(labels_path)
    records = []
    for case, row in labels.items():
        folder = root / case
        if not folder.is_dir():
            raise InputError(f"labels.csv names {case!r} but {folder} is not a folder")
        lvo, side, site = _label_fields(row)
        records.append(CaseRecord(case, folder, lvo, side, site))
    return records


def load_case_volume(record: CaseRecord) -> tuple[np.ndarray, tuple[float, float, float]]:
    if record.path.is_dir():
        from strokealert.lvo.analyze import cta_files

        return preprocess.read_dicom_volume(cta_files([record.path]))
    volume, spacing, _ = read_nifti_lps(record.path)
    return volume, spacing


def real_samples(root: Path, layout: str) -> Iterator[Sample]:
    """Samples of a hospital's cases; ``layout`` is ``isles`` or ``dicom``."""
    if layout not in ("isles", "dicom"):
        raise InputError(f"unknown data layout {layout!r} (isles or dicom)")
    records = isles_cases(root) if layout == "isles" else dicom_cases(root)
    for record in tqdm(records, desc=f"reading {layout} cases", unit="case"):
        volume, spacing = load_case_volume(record)
        # Unknown site on an LVO case: count it as M1 for training (the commonest site).
        site = (record.site or "M1") if record.lvo else None
        yield sample_from_volume(record.case, volume, spacing, site, record.side,
                                 {"phase": "real", "noise": "real", "slice": f"{spacing[0]:g} mm",
                                  "quality": "real", "negative": "-"})
