"""Key images, perfusion-map slices and CTA-slab slices of a case, read only from the case's
output folder."""

from __future__ import annotations

import io
import zipfile
from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np
from matplotlib import colormaps
from nibabel.spatialimages import SpatialImage
from PIL import Image

from strokealert.contracts.outputs import CTA_SLAB_FILE
from strokealert.db.models.cases import Case

# Display windows (units of each map) and colour maps.
MAP_WINDOWS = {"cbf": (0.0, 60.0, "turbo"), "cbv": (0.0, 6.0, "turbo"),
               "mtt": (0.0, 16.0, "turbo"), "tmax": (0.0, 12.0, "turbo"),
               "ttp": (0.0, 40.0, "turbo"), "rcbf": (0.0, 1.5, "turbo"),
               "core": (0.0, 1.0, "magma"), "hypoperfusion": (0.0, 1.0, "viridis")}
SCROLL_MAPS = ("cbf", "cbv", "mtt", "tmax")
# CTA display windows on the phone (centre, width in HU); the first is the default.
CTA_PRESETS_HU = {"Angio": (300.0, 700.0), "Brain": (40.0, 80.0), "Bone": (500.0, 2000.0)}
CTA_WINDOW_HU = CTA_PRESETS_HU["Angio"]


def _inside(case: Case, relative: str) -> Path | None:
    if not case.output_dir:
        return None
    root = Path(case.output_dir).resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def key_image_file(case: Case, relative: str) -> Path | None:
    """The key image ``relative`` to the case's output folder, if it is a file inside it."""
    return _inside(case, relative)


def key_image_path(case: Case, index: int) -> Path | None:
    if not 0 <= index < len(case.key_images or []):
        return None
    return _inside(case, case.key_images[index])


def map_path(case: Case, name: str) -> Path | None:
    relative = (case.map_files or {}).get(name)
    return _inside(case, relative) if relative else None


def cta_slab_path(case: Case) -> Path | None:
    """The case's CTA slab: in the folder of its (LVO) key images, else at its output root."""
    folders = dict.fromkeys([*(str(Path(name).parent) for name in case.key_images or []), "."])
    for folder in folders:
        path = _inside(case, str(Path(folder) / CTA_SLAB_FILE))
        if path is not None:
            return path
    return None


@lru_cache(maxsize=4)
def _slab(path: str, mtime: float) -> np.ndarray | None:
    """The slab's (slice, row, column) int16 HU, or None when the file is not a readable slab."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            hu = saved["hu"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    return hu if hu.ndim == 3 and hu.dtype == np.int16 else None


def cta_slab_slices(path: Path) -> int:
    """Slices of the slab at ``path`` (0 when it cannot be read)."""
    hu = _slab(str(path), path.stat().st_mtime)
    return 0 if hu is None else int(hu.shape[0])


def cta_png(path: Path, z: int, centre_hu: float, width_hu: float) -> bytes | None:
    """Slice ``z`` of the slab as a grey PNG in the window ``centre_hu``/``width_hu`` (HU), or
    None if ``z`` is out of range or the slab unreadable."""
    hu = _slab(str(path), path.stat().st_mtime)
    if hu is None or not 0 <= z < hu.shape[0]:
        return None
    low = centre_hu - width_hu / 2
    grey = np.clip((hu[z].astype(np.float32) - low) / width_hu, 0, 1) * 255
    return _png(Image.fromarray(np.rint(grey).astype(np.uint8)))


def _png(image: Image.Image) -> bytes:
    """``image`` as PNG bytes; narrower than 256 px, enlarged by the whole factor 256 // width."""
    if image.width < 256:
        factor = max(1, 256 // image.width)
        image = image.resize((image.width * factor, image.height * factor),
                             Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _load(path: str) -> SpatialImage:
    """A map file (NIfTI) opened lazily; ValueError when it is not an image volume."""
    image = nib.load(path)
    if not isinstance(image, SpatialImage):
        raise ValueError(f"{Path(path).name} is not an image volume")
    return image


@lru_cache(maxsize=16)
def _volume(path: str, mtime: float) -> np.ndarray:
    """The map as (z, y, x) float32 with the patient's right on the image left (radiological)."""
    data = np.asarray(_load(path).dataobj, dtype=np.float32)  # (i, j, k) RAS-ish
    return np.ascontiguousarray(np.transpose(data, (2, 1, 0))[:, ::-1, :])


def slice_count(path: Path) -> int:
    shape = _load(str(path)).shape
    return int(shape[2]) if len(shape) >= 3 else 1


def slice_png(path: Path, name: str, z: int) -> bytes | None:
    """One axial slice as a colour PNG (window per map), or None if ``z`` is out of range."""
    volume = _volume(str(path), path.stat().st_mtime)
    if not 0 <= z < volume.shape[0]:
        return None
    low, high, cmap = MAP_WINDOWS.get(name, (float(np.nanmin(volume)),
                                             float(np.nanmax(volume)) or 1.0, "gray"))
    scaled = np.clip((np.nan_to_num(volume[z]) - low) / (high - low or 1.0), 0, 1)
    rgba = (colormaps[cmap](scaled) * 255).astype(np.uint8)
    rgba[np.nan_to_num(volume[z]) <= low, :3] = 0
    return _png(Image.fromarray(rgba[..., :3]))
