"""Pixel-level metrics of anomaly maps against defect masks: pixel AUROC and the PRO score."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

PRO_MAX_FPR = 0.3
"""PRO is integrated over false-positive rates up to this, as in MVTec AD (Bergmann et al. 2021)."""


def _check_maps(masks: np.ndarray, maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    masks = np.asarray(masks) > 0
    maps = np.asarray(maps, np.float64)
    if masks.shape != maps.shape or masks.ndim != 3:
        raise ValueError(
            f"masks {masks.shape} and anomaly maps {maps.shape} must both be (N, H, W)"
        )
    if masks.all() or not masks.any():
        raise ValueError("pixel metrics need both defect and defect-free pixels in the masks")
    return masks, maps


def pixel_auroc(masks: np.ndarray, maps: np.ndarray) -> float:
    """AUROC of every test pixel's map value against its mask (1 = defect)."""
    masks, maps = _check_maps(masks, maps)
    return float(skm.roc_auc_score(masks.ravel(), maps.ravel()))


def pro_curve(masks: np.ndarray, maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, PRO) at every threshold, highest threshold first.

    PRO is the mean, over the connected defect regions of all masks (8-connectivity), of the
    fraction of the region's pixels above the threshold; FPR is the fraction of defect-free
    pixels above it. Computed in one sort: each pixel adds 1 / (region size * regions) to PRO or
    1 / defect-free pixels to FPR once the threshold falls below it.
    """
    from scipy import ndimage

    masks, maps = _check_maps(masks, maps)
    regions = np.zeros(masks.shape, np.int64)
    count = 0
    for i, mask in enumerate(masks):
        labelled, found = ndimage.label(mask, structure=np.ones((3, 3)))
        regions[i] = np.where(labelled > 0, labelled + count, 0)
        count += found
    sizes = np.bincount(regions.ravel())
    weight = np.where(regions > 0, 1.0 / (sizes[regions] * count), 0.0).ravel()
    normal = (~masks).ravel()
    order = np.argsort(-maps.ravel(), kind="stable")
    values = maps.ravel()[order]
    pro = np.minimum(np.cumsum(weight[order]), 1.0)  # rounding may overshoot 1 by an ulp or two
    fpr = np.cumsum(normal[order]) / normal.sum()
    last_of_tie = np.r_[values[1:] != values[:-1], True]  # one point per distinct threshold
    return np.r_[0.0, fpr[last_of_tie]], np.r_[0.0, pro[last_of_tie]]


def pro_score(masks: np.ndarray, maps: np.ndarray, max_fpr: float = PRO_MAX_FPR) -> float:
    """Area under the PRO-FPR curve up to `max_fpr`, divided by `max_fpr` (1 = perfect)."""
    if not 0.0 < max_fpr <= 1.0:
        raise ValueError(f"max_fpr must be in (0, 1], got {max_fpr}")
    fpr, pro = pro_curve(masks, maps)
    end = int(np.searchsorted(fpr, max_fpr, side="right"))  # fpr[end - 1] <= max_fpr < fpr[end]
    pro_at_max = pro[-1]
    if end < len(fpr):  # the curve is linear between thresholds: cut it at max_fpr
        share = (max_fpr - fpr[end - 1]) / (fpr[end] - fpr[end - 1])
        pro_at_max = pro[end - 1] + share * (pro[end] - pro[end - 1])
    fpr = np.r_[fpr[:end], max_fpr]
    pro = np.r_[pro[:end], pro_at_max]
    return float(np.trapezoid(pro, fpr) / max_fpr)


def pixel_metrics(masks: np.ndarray, maps: np.ndarray) -> dict[str, float]:
    """Pixel AUROC and normalised PRO (up to FPR 0.3) of anomaly maps against defect masks."""
    return {"pixel_auroc": pixel_auroc(masks, maps), "pro": pro_score(masks, maps)}
