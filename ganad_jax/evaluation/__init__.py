"""Honest evaluation, one package: `metrics` (ranking metrics, thresholds fitted on validation or
training scores with their provenance, labelled oracle metrics), `pixel` (pixel AUROC and PRO of
anomaly maps), `reports` (report.json / report.md and the plots) and `series` (time-series point
scores, events and baselines). Scoring itself is `ganad_jax.scoring`, the layer below training and
evaluation.
"""
