"""The blood segmentation network (matrix 128 phantoms): the shipped weights see a rendered
bleed and not a normal head, ``strokealert ncct train`` writes a loadable weights file, and the
fused analysis keeps a bleed and drops mimics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from strokealert.cli import app
from strokealert.errors import InputError
from strokealert.ncct import analyze_volume, brain, ich_net
from strokealert.ncct.analyze import network_probability
from strokealert.ncct.dataset import write_synthetic
from strokealert.phantoms.ncct_families import MIMICS, NcctLabel, fields, geometric


def test_shipped_weights_see_a_bleed_and_not_a_normal_head() -> None:
    case = fields.render(5, NcctLabel(bleeds=("intraparenchymal",)), matrix=128)
    prob = ich_net.predict_blood(case.volume_hu, case.spacing_mm)
    assert prob.shape == case.volume_hu.shape and prob.dtype == np.float32
    blood = case.blood_mask > 0
    assert float(np.median(prob[blood])) > 0.5
    normal = geometric.render(4, NcctLabel(), matrix=128)
    head = brain.find_head(normal.volume_hu, normal.spacing_mm)
    quiet = network_probability(head, normal.volume_hu, normal.spacing_mm)
    assert float(((quiet >= 0.5) & head.inside).sum()) * head.voxel_ml < 1.0
    assert ich_net.metadata()["families"].keys() == {"geometric", "fields"}


def test_train_command_writes_loadable_weights(tmp_path: Path) -> None:
    data = write_synthetic("geometric", tmp_path / "data", 2, first_seed=30, matrix=64)
    out = tmp_path / "model" / "ich_net.pt"
    result = CliRunner().invoke(app, ["ncct", "train", "--data", str(data), "--epochs", "1",
                                      "--steps", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "epoch 1/1 loss" in result.output and "val dice" in result.output
    model = ich_net.load(out)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["best_epoch"] == 1 and meta["families"]["geometric"]["cases"] == 1
    case = geometric.render(31, NcctLabel(), matrix=64)
    prob = ich_net.predict_blood(case.volume_hu, case.spacing_mm, model=model)
    assert prob.shape == case.volume_hu.shape and np.isfinite(prob).all()


def test_train_command_refuses_a_folder_without_voxel_truth(tmp_path: Path) -> None:
    data = write_synthetic("geometric", tmp_path / "data", 1, first_seed=32, matrix=64)
    (data / "geometric-00032" / "truth_blood.npz").unlink()
    result = CliRunner().invoke(app, ["ncct", "train", "--data", str(data), "--epochs", "1",
                                      "--out", str(tmp_path / "w.pt")])
    assert isinstance(result.exception, InputError)
    assert "truth_blood.npz" in str(result.exception)


@pytest.mark.parametrize("method", ["fused", "network"])
def test_bleed_beside_mimics_is_kept_and_mimics_alone_are_dropped(method: str) -> None:
    bleed = geometric.render(9, NcctLabel(bleeds=("intraparenchymal",), mimics=MIMICS[:4]),
                             matrix=128)
    found = analyze_volume(bleed.volume_hu, bleed.spacing_mm, method=method)
    assert found.suspected and "intraparenchymal" in found.kinds
    truth = bleed.blood_volume_ml()
    assert abs(found.volume_ml - truth) <= max(2.0, 0.3 * truth)
    mimics = fields.render(3, NcctLabel(mimics=MIMICS), matrix=128)
    quiet = analyze_volume(mimics.volume_hu, mimics.spacing_mm, method=method)
    assert not quiet.suspected and not np.any(quiet.blood_mask)
