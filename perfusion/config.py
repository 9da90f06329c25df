"""Analysis settings: every threshold of the pipeline, with its unit, in one place."""

from __future__ import annotations

from dataclasses import dataclass

# Tissue density (g/mL) and the large-to-small-vessel haematocrit correction
# k_H = (1 - 0.45) / (1 - 0.25) that enter C_t = (rho / k_H) * CBF * (C_a (*) R).
TISSUE_DENSITY_G_PER_ML = 1.04
HEMATOCRIT_FACTOR = 0.73

METHODS = ("bcsvd", "osvd", "ssvd", "tikhonov")
CBF_CALIBRATIONS = ("exponential", "family", "fitted", "none")


@dataclass
class PerfusionConfig:
    """Settings of one analysis. Times in s, lengths in mm, volumes in mL, HU for CT values."""

    # Tikhonov deconvolution read with the "fitted" CBF calibration and the bcSVD Tmax
    # (tmax_svd_threshold): chosen by bench/perfusion.py over bcSVD with an exponential
    # calibration, whose CBF followed the residue shape (+4 % exponential, +154 % box).
    method: str = "tikhonov"
    # bcSVD / sSVD truncation, relative to the largest singular value.
    # 0.25 rather than the usual 0.1-0.2: the calibration removes the stronger filter's bias
    # (maps.calibrate) and the lower noise steadies the CBF of low-volume tissue.
    svd_threshold: float = 0.25
    # oSVD: oscillation-index limit (0.095 for CT in OpenPerfusion) and candidate truncations.
    osvd_oscillation_limit: float = 0.095
    osvd_thresholds: tuple[float, ...] = (0.02, 0.04, 0.06, 0.1, 0.15, 0.2, 0.3, 0.5)
    # Tikhonov regularisation, relative to the largest singular value. Light (0.05): the
    # flatter a residue's top, the less a filter lowers its peak, so the weaker the filter,
    # the less CBF depends on the residue shape (maps.calibrate removes the rest on average).
    tikhonov_lambda: float = 0.05
    # When set, Tmax is read from residues truncated by bcSVD at this threshold (steadier
    # with noise than a lightly regularised method's; at 20 HU the Tikhonov Tmax alone put
    # 78-120 mL of normal tissue of the head phantom beyond 6 s) and CBF from the configured
    # method. None: Tmax from the configured method too.
    tmax_svd_threshold: float | None = 0.25
    # Correct CBF underestimation and Tmax overestimation of the truncated deconvolution by a
    # noise-free calibration with the study's own AIF (see maps.calibrate).
    bias_correction: bool = True
    # Residue shapes whose CBF loss is corrected: "fitted" (the shape identified from the
    # study's curves, perfusion.fit), "family" (geometric mean over gamma transit-time shapes
    # from the exponential to the box, maps.RESIDUE_FAMILY), "exponential" or "none". The
    # Tmax shift is that of exponential residues in every case (a box has no single peak).
    # See maps.apply_calibration. "fitted" chosen by bench/perfusion.py: reference phantom,
    # 1-s sampling, mean of 8 noise draws (6 Dec, evening), CBF exponential/linear/box/gamma
    # -1/-1/+3/+2 % at 10 HU (family -20/-3/+38/+5) and +2/+0/+3/+6 % at 20 HU (family
    # -20/+0/+42/+4); head phantom cores at 10 HU over 6 noise fields per shape (exponential,
    # gamma, box) -1.7 mL on average, all 18 within 5 mL (family -1.4, 18 of 18; at 20 HU
    # fitted 13 and family 15 of 18).
    cbf_calibration: str = "fitted"
    # "fitted" calibration (perfusion.fit): each shape's fitting error is averaged over a
    # Gaussian of this sigma (mm), the residue shape being a property of the tissue that
    # varies slowly, or over the whole study (None), and computed on voxels this far apart
    # (mm) in-plane. The whole study by default: the shapes of short-MTT tissue (normal grey
    # and white matter) are hard to tell apart, and a calibration that changes between the
    # normal hemisphere and the lesion changes the relative CBF that defines the core (head
    # phantom, box residues, 10 HU, before the noise extrapolation of fit.py: core +47 mL with
    # a 20-mm pool, +12 with the study's).
    shape_pool_mm: float | None = None
    shape_fit_stride_mm: float = 4.0
    # The calibration tables keep only the transits whose estimated MTT rises at least this
    # many times as fast as the true one (log scales, maps.resolved_transits); the others
    # take the nearest kept ratio. Where the estimate barely follows the truth (a
    # broad bolus: 1-3.4 s read 6.6-7.9 s while the ratio ran 0.16-0.45), the noise of a
    # voxel's lookup was multiplied into its CBF, and convexity made the normal tissue's
    # mean, which every relative CBF divides by, read high: on the held-out 'territories'
    # family (seeds 100-105, 10 HU) the core read +25 mL on average, -1 mL with 0.35 (chosen
    # over 0.25 on those seeds; test seeds 200-205, exponential/gamma/box: +25.6/+17.0/+22.9
    # -> +0.2/+1.0/-5.3 mL; README "6 Dec, late").
    calibration_min_slope: float = 0.35
    # Correct the upward bias of low CBF on the noise floor (maps.noise_floor_table).
    noise_floor_correction: bool = True
    # Smooth the CBF map before the noise-floor correction, which then removes the mean lift
    # (without smoothing: the median lift of single voxels), and the Tmax map after its
    # corrections. Their sigma is the curves' times (noise / map_smoothing_noise_hu) ** 1.5,
    # at most 1 and at least map_smoothing_min_mm (denoise.map_sigma_px).
    cbf_smoothing: bool = True
    tmax_smoothing: bool = True
    map_smoothing_noise_hu: float = 20.0
    map_smoothing_min_mm: float = 0.8
    density_g_per_ml: float = TISSUE_DENSITY_G_PER_ML
    hematocrit_factor: float = HEMATOCRIT_FACTOR

    min_frames: int = 10
    # In-plane working resolution: finer images are block-averaged down to about this (mm).
    working_pixel_mm: float = 1.0
    # Spatial denoising: in-plane Gaussian (sigma, mm) on baseline-subtracted frames.
    smoothing_mm: float = 2.5
    # Temporal denoising: project curves on the span of AIF-convolved residues (denoise.py),
    # keeping this fraction of that dictionary's energy.
    temporal_projection: bool = True
    subspace_energy: float = 0.999

    motion_correction: bool = True
    # Frames moved more than this (mm, at the brain's edge) make the study unusable.
    max_motion_mm: float = 8.0
    # Frames moved less than this are left as they are (no resampling blur).
    motion_tolerance_mm: float = 0.3

    # Brain mask: baseline HU range of parenchyma; CSF and bone fall outside.
    tissue_hu: tuple[float, float] = (15.0, 70.0)
    # Voxels whose peak enhancement exceeds this are vessels, not tissue.
    vessel_enhancement_hu: float = 60.0
    max_tissue_cbv: float = 10.0

    # Manual AIF / VOF: (z, y, x) voxel indices in the working grid replace the automatic choice.
    aif_voxels: list[tuple[int, int, int]] | None = None
    vof_voxels: list[tuple[int, int, int]] | None = None
    # Voxels averaged into the AIF and into the VOF (median), a quarter from each lattice.
    aif_voxel_count: int = 12
    partial_volume_correction: bool = True

    core_rcbf: float = 0.30
    core_requires_tmax_s: float | None = 6.0
    # The core mask is closed in-plane with a disk of this radius (mm) and its holes filled
    # (lesions.close_in_plane); 0 leaves it voxel by voxel.
    core_closing_mm: float = 4.5
    tmax_thresholds_s: tuple[float, ...] = (4.0, 6.0, 8.0, 10.0)
    hypoperfusion_tmax_s: float = 6.0
    min_cluster_ml: float = 0.5
    # Side: the hemisphere with more Tmax>6 s tissue, if at least this much (mL) and 60 % of it.
    min_side_ml: float = 5.0

    # DEFUSE 3 and EXTEND-IA criteria.
    defuse3_max_core_ml: float = 70.0
    defuse3_min_ratio: float = 1.8
    defuse3_min_mismatch_ml: float = 15.0
    extend_ia_max_core_ml: float = 70.0
    extend_ia_min_ratio: float = 1.2
    extend_ia_min_mismatch_ml: float = 10.0

    write_outputs: bool = True

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown deconvolution method {self.method!r}; one of {METHODS}")
        if self.cbf_calibration not in CBF_CALIBRATIONS:
            raise ValueError(f"unknown CBF calibration {self.cbf_calibration!r}; one of "
                             f"{CBF_CALIBRATIONS}")
