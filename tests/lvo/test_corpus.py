"""The rendered-CTA corpus: label plan, resumable build, round trip, atomic writes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from strokealert.errors import InputError
from strokealert.lvo import corpus
from strokealert.phantoms.cta_families import HARD_NEGATIVES, CaseLabel


def test_plan_mix_is_45_percent_lvo_with_every_site_side_and_hard_negative() -> None:
    plan = corpus.label_plan("grown", 200)
    labels = [label for _, label in plan]
    kinds = Counter(label.kind for label in labels)
    assert kinds["lvo"] == 90
    assert all(kinds[k] >= 20 for k in HARD_NEGATIVES if k != "normal")
    assert kinds["normal"] >= 25
    sites = Counter((label.site, label.side) for label in labels if label.kind == "lvo")
    for site in ("ICA", "M1", "M2"):
        assert abs(sites[(site, "left")] - sites[(site, "right")]) <= 1
        assert sites[(site, "left")] + sites[(site, "right")] == 25
    assert sites[("basilar", "none")] == 15
    assert len({seed for seed, _ in plan}) == 200


def test_plan_prefixes_agree_and_families_share_it() -> None:
    long = corpus.label_plan("willis", 130)
    assert corpus.label_plan("willis", 57) == long[:57]
    assert corpus.label_plan("traced", 130) == long
    with pytest.raises(ValueError, match="unknown CTA family"):
        corpus.label_plan("nope", 3)


def test_build_is_resumable_and_keeps_existing_cases(tmp_path: Path) -> None:
    corpus.build(tmp_path, "original", 2, matrix=64, progress=False)
    first = corpus.case_path(tmp_path, "original", corpus.FIRST_SEED)
    stamp = first.stat().st_mtime_ns
    corpus.build(tmp_path, "original", 3, matrix=64, progress=False)
    assert first.stat().st_mtime_ns == stamp  # not rendered again
    cases = list(corpus.iter_cases(tmp_path, "original"))
    assert [c.seed for c in cases] == [s for s, _ in corpus.label_plan("original", 3)]
    assert [c.label for c in cases] == [lab for _, lab in corpus.label_plan("original", 3)]
    assert all(c.volume_hu.dtype == np.int16 and c.volume_hu.shape[1:] == (64, 64)
               for c in cases)
    with pytest.raises(InputError, match="matrix 64, not 96"):
        corpus.build(tmp_path, "original", 3, matrix=96, progress=False)


def test_case_round_trip(tmp_path: Path) -> None:
    label = CaseLabel("lvo", "M1", "right")
    case = corpus.render_case("willis", 11, label, 64)
    assert case.volume_hu.dtype == np.int16
    assert case.volume_hu.max() > 150  # contrast-filled vessels or bone are there
    path = corpus.save_case(case, tmp_path, 64)
    back = corpus.load_case(path)
    assert (back.family, back.seed, back.label) == ("willis", 11, label)
    assert back.spacing_mm == case.spacing_mm
    np.testing.assert_array_equal(back.volume_hu, case.volume_hu)
    assert set(back.details) == set(case.details)


def test_failed_write_leaves_no_partial_file(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    case = corpus.render_case("original", 5, CaseLabel("stenosis"), 64)
    good = corpus.save_case(case, tmp_path, 64)
    before = good.read_bytes()

    def disk_full(handle: Any, **arrays: Any) -> None:
        handle.write(b"PK\x03\x04 half a zip")
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez_compressed", disk_full)
    with pytest.raises(OSError, match="No space"):
        corpus.save_case(case, tmp_path, 64)
    monkeypatch.undo()
    assert good.read_bytes() == before  # the complete case was not replaced
    assert sorted(p.name for p in good.parent.iterdir()) == [good.name]
    (good.parent / f".{corpus.FIRST_SEED}.npz.999.tmp").write_bytes(b"partial")
    assert [c.seed for c in corpus.iter_cases(tmp_path, "original")] == [5]


def test_corpus_command_renders_into_root(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from strokealert.cli import app

    args = ["lvo", "corpus", "--families", "original", "--per-family", "2", "--matrix", "64",
            "--root", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "original").iterdir()) == [
        f"{corpus.FIRST_SEED}.npz", f"{corpus.FIRST_SEED + 1}.npz"]
    refused = CliRunner().invoke(app, ["lvo", "corpus", "--families", "nope", "--root",
                                       str(tmp_path)])
    assert isinstance(refused.exception, InputError)
