"""Pixel-level metrics (pixel AUROC, PRO up to FPR 0.3) on masks with known answers, and the report
of an image run with masks: pixel metrics in report.json and the overlay plot."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from ganad_jax import runs, runspec
from ganad_jax.evaluation.metrics import Threshold
from ganad_jax.evaluation.pixel import pixel_auroc, pixel_metrics, pro_curve, pro_score
from ganad_jax.evaluation.reports import plot_report
from ganad_jax.scoring import ScoreArrays


def two_regions() -> np.ndarray:
    """One 10x10 mask with two separate 2x2 defect regions."""
    masks = np.zeros((1, 10, 10), np.uint8)
    masks[0, :2, :2] = 1
    masks[0, -2:, -2:] = 1
    return masks


def test_perfect_and_inverted_maps():
    masks = two_regions()
    perfect = masks.astype(np.float32)
    assert pixel_metrics(masks, perfect) == {"pixel_auroc": 1.0, "pro": 1.0}
    assert pixel_metrics(masks, 1.0 - perfect) == {"pixel_auroc": 0.0, "pro": 0.0}


def test_one_of_two_regions_found():
    # Region A scores 1, region B and every normal pixel 0: PRO jumps to 0.5 at FPR 0 and reaches
    # 1 at FPR 1 (one tied threshold), so PRO(0.3) = 0.65 and the area / 0.3 is
    # (0.5 + 0.65) / 2 = 0.575. Pixel AUROC: half the defect pixels win, half tie: 0.75.
    masks = two_regions()
    maps = np.zeros(masks.shape, np.float32)
    maps[0, :2, :2] = 1.0
    assert pixel_auroc(masks, maps) == pytest.approx(0.75)
    assert pro_score(masks, maps) == pytest.approx(0.575)
    assert pro_score(masks, maps, max_fpr=1.0) == pytest.approx(0.75)


def test_regions_weigh_equally_whatever_their_size():
    # a big region found and a small one missed: PRO is 0.5 at FPR 0, not the pixel share
    masks = np.zeros((2, 8, 8), np.uint8)
    masks[0, :6, :6] = 1
    masks[1, 0, 0] = 1
    maps = masks.astype(np.float32)
    maps[1, 0, 0] = 0.0
    fpr, pro = pro_curve(masks, maps)
    assert fpr[1] == 0.0 and pro[1] == pytest.approx(0.5)


def brute_force_pro(masks: np.ndarray, maps: np.ndarray, max_fpr: float) -> float:
    """PRO by a loop over every distinct threshold, with scipy's labelling per image."""
    from scipy import ndimage

    regions = []
    for i, mask in enumerate(masks):
        labelled, n = ndimage.label(mask, structure=np.ones((3, 3)))
        regions += [(i, labelled == r) for r in range(1, n + 1)]
    points = [(0.0, 0.0)]
    for t in np.unique(maps)[::-1]:
        above = maps >= t
        fpr = above[masks == 0].mean()
        pro = np.mean([above[i][region].mean() for i, region in regions])
        points.append((fpr, pro))
    fpr, pro = np.array(points).T
    grid = np.linspace(0, max_fpr, 20001)
    return float(np.trapezoid(np.interp(grid, fpr, pro), grid) / max_fpr)


def test_matches_brute_force_with_ties():
    rng = np.random.default_rng(0)
    masks = (rng.uniform(size=(3, 12, 12)) < 0.15).astype(np.uint8)
    maps = np.round(rng.uniform(size=masks.shape) + 0.4 * masks, 1)  # ties on purpose
    assert pro_score(masks, maps) == pytest.approx(brute_force_pro(masks, maps, 0.3), abs=1e-4)


def test_uninformative_maps_give_the_diagonal():
    # random maps: PRO ~ FPR at every threshold, so the normalised area up to 0.3 is ~0.15
    rng = np.random.default_rng(1)
    masks = np.zeros((40, 64, 64), np.uint8)
    masks[:, 8:24, 8:24] = 1
    masks[:, 40:56, 30:46] = 1
    maps = rng.uniform(size=masks.shape)
    assert pro_score(masks, maps) == pytest.approx(0.15, abs=0.01)
    assert pixel_auroc(masks, maps) == pytest.approx(0.5, abs=0.02)


def test_bad_inputs():
    masks = two_regions()
    with pytest.raises(ValueError, match="must both be"):
        pixel_auroc(masks, np.zeros((1, 10, 9)))
    with pytest.raises(ValueError, match="both defect and defect-free"):
        pro_score(np.zeros_like(masks), np.zeros(masks.shape))
    with pytest.raises(ValueError, match="max_fpr"):
        pro_score(masks, masks.astype(float), max_fpr=0.0)


def test_overlay_plot(tmp_path):
    rng = np.random.default_rng(0)
    inputs = rng.uniform(-1, 1, (8, 16, 16, 1)).astype(np.float32)
    labels = np.array([0, 1] * 4)
    maps = rng.uniform(size=(8, 16, 16)).astype(np.float32)
    masks = np.zeros((8, 16, 16), np.uint8)
    masks[1::2, 4:8, 4:8] = 1
    test = ScoreArrays({"s": maps.mean(axis=(1, 2))}, "s", maps, inputs)
    written = plot_report(tmp_path, labels, test, Threshold(0.5, "test"), inputs, masks)
    assert "examples" in written and (tmp_path / "examples.png").stat().st_size > 0


def _mvtec_folder(root, size: int = 16) -> None:
    """A tiny MVTec-layout folder: 24 good training images, 4 good and 4 defective test images
    whose defect is a bright square that their masks outline."""
    rng = np.random.default_rng(0)

    def save(path, array):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(path)

    def noise():
        return rng.integers(90, 110, (size, size), dtype=np.uint8)

    for i in range(24):
        save(root / "train" / "good" / f"{i:03d}.png", noise())
    for i in range(4):
        save(root / "test" / "good" / f"{i:03d}.png", noise())
        image, mask = noise(), np.zeros((size, size), np.uint8)
        image[4:9, 6:11] = 255
        mask[4:9, 6:11] = 255
        save(root / "test" / "spot" / f"{i:03d}.png", image)
        save(root / "ground_truth" / "spot" / f"{i:03d}_mask.png", mask)


@pytest.mark.slow
def test_report_of_a_run_with_masks(tmp_path):
    _mvtec_folder(tmp_path / "data")
    spec = runspec.make_spec(
        "ganomaly",
        f"mvtec:{tmp_path / 'data'}",
        settings=["image_size=16", "latent=8", "features=8", "batch_size=8", "max_steps=2"],
        progress=False,
    )
    report = runs.train_run(spec, tmp_path / "run")
    assert 0.0 <= report["pixel_auroc"] <= 1.0 and 0.0 <= report["pro"] <= 1.0
    saved = json.loads((tmp_path / "run" / "report.json").read_text())
    assert saved["pixel_auroc"] == report["pixel_auroc"]
    assert "Pixel level" in (tmp_path / "run" / "report.md").read_text()
    assert (tmp_path / "run" / "plots" / "examples.png").exists()
