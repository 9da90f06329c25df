"""Training/evaluation samples: the synthetic corpus of every generator family, or a
hospital's own cases.

A sample is what the classifier consumes (vessel features, gate inputs) plus its label, its
family and the strata of the evaluation table. Features of the corpus are cached one JSON
line per case (``<cache>/<family>.jsonl``), so extraction resumes where it stopped and never
renders or reads a case twice. Real data comes from two layouts:

* ISLES'24: ``**/*cta.nii.gz`` with an optional ``**/*lvo-msk*.nii.gz`` of the same subject
  (non-empty mask = LVO, side from the mask centroid) and an optional ``labels.csv``
  (``case,lvo,side,site``) that overrides or completes the labels;
* a folder of DICOM studies (one sub-folder per case) with ``labels.csv`` (``case,lvo,side,site``).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from strokealert.errors import InputError
from strokealert.lvo import preprocess, quality, vessels
from strokealert.lvo.corpus import load_case
from strokealert.phantoms.cta_families import CaseLabel


@dataclass
class Sample:
    """One analysed case with its label and strata."""

    case: str
    family: str
    features: list[float]  # vessels.FEATURES, oriented to the suspected side
    context: list[float]  # log brain mL, log vessel mL, arterial enhancement / 100 HU
    called_side: str  # the side that lacks vessel
    site: str | None  # truth: ICA, M1, M2, basilar or None
    side: str  # truth
    kind: str  # truth: lvo or the negative kind
    quality_ok: bool
    strata: dict[str, str]

    def gate_input(self) -> np.ndarray:
        return np.array(self.features + self.context)


def context_of(canon: preprocess.Canonical, found: vessels.VesselFeatures) -> list[float]:
    """What the gate sees beside the features: head size, vessel amount, contrast."""
    return _context(canon.brain_ml, found.total, canon.arterial_hu - canon.tissue_hu)


def _context(brain_ml: float, vessel_ml: float, enhancement_hu: float) -> list[float]:
    return [float(np.log(brain_ml)), float(np.log(vessel_ml + 1e-3)), enhancement_hu / 100.0]


@dataclass(frozen=True)
class Analysed:
    """What a case leaves for the classifier: its vessel map and the quality figures."""

    vessel: np.ndarray  # canonical vessel map (z, y, x), steps of 1 / VESSEL_STEPS
    brain_ml: float
    enhancement_hu: float
    quality_ok: bool

    @classmethod
    def of(cls, volume_hu: np.ndarray, spacing_mm: Sequence[float]) -> Analysed:
        canon = preprocess.canonicalise(np.asarray(volume_hu, dtype=np.float32), spacing_mm)
        return cls(canon.vessel, canon.brain_ml, canon.arterial_hu - canon.tissue_hu,
                   quality.check(canon).ok)

    @classmethod
    def failed(cls) -> Analysed:
        """A case the preprocessing refused: an empty map that fails the quality gate."""
        shape = tuple(len(g) for g in preprocess.canonical_grid()[::-1])
        return cls(np.zeros(shape, dtype=np.float32), 1.0, 0.0, False)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        with tmp.open("wb") as handle:
            np.savez_compressed(
                handle, vessel=np.rint(self.vessel * preprocess.VESSEL_STEPS).astype(np.uint8),
                meta=np.array(json.dumps({"brain_ml": self.brain_ml,
                                          "enhancement_hu": self.enhancement_hu,
                                          "quality_ok": self.quality_ok})))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Analysed:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            vessel = data["vessel"].astype(np.float32) / preprocess.VESSEL_STEPS
        return cls(vessel, float(meta["brain_ml"]), float(meta["enhancement_hu"]),
                   bool(meta["quality_ok"]))

    def sample(self, case: str, family: str, site: str | None, side: str, kind: str,
               strata: dict[str, str]) -> Sample:
        found = vessels.extract(self.vessel)
        return Sample(case, family, [float(v) for v in found.values],
                      _context(self.brain_ml, found.total, self.enhancement_hu), found.side,
                      site, side, kind, self.quality_ok, strata)


def sample_from_volume(case: str, family: str, volume_hu: np.ndarray,
                       spacing_mm: Sequence[float], site: str | None, side: str, kind: str,
                       strata: dict[str, str]) -> Sample:
    return Analysed.of(volume_hu, spacing_mm).sample(case, family, site, side, kind, strata)


def _corpus_files(root: Path, family: str) -> list[Path]:
    """The complete case files of ``family`` under a corpus ``root``, in seed order."""
    return sorted((root / family).glob("[0-9]*.npz"), key=lambda p: int(p.stem))


def _corpus_label(path: Path) -> CaseLabel:
    """The label of a corpus file, from its metadata alone (the volume is not read)."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
    return CaseLabel(meta["kind"], meta["site"], meta["side"])


def corpus_samples(root: Path, family: str, cache: Path, limit: int | None = None
                   ) -> list[Sample]:
    """Samples of the corpus cases of ``family`` under ``root``. Each case's vessel map is
    cached as ``<cache>/<family>/<seed>.npz`` (uint8, ~100 kB): a case is read and
    preprocessed once, and the features are recomputed from the maps on every run."""
    out: list[Sample] = []
    for path in tqdm(_corpus_files(root, family)[:limit], desc=f"{family} cases", unit="case"):
        stored = cache / family / f"{path.stem}.npz"
        if stored.exists():
            analysed = Analysed.load(stored)
            label = _corpus_label(path)
        else:
            item = load_case(path)
            try:
                analysed = Analysed.of(item.volume_hu, item.spacing_mm)
            except InputError:  # no head found: counted as a manual review, like analyze
                analysed = Analysed.failed()
            analysed.save(stored)
            label = item.label
        out.append(analysed.sample(f"{family}-{path.stem}", family,
                                   label.site if label.kind == "lvo" else None, label.side,
                                   label.kind, {"kind": label.kind}))
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
        yield sample_from_volume(record.case, "local", volume, spacing, site, record.side,
                                 "lvo" if record.lvo else "normal",
                                 {"kind": "lvo" if record.lvo else "negative",
                                  "slice": f"{spacing[0]:.1f} mm"})
