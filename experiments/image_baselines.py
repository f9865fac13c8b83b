"""Simple baselines on the splits of the image tables: what a GAN detector there has to beat.

Command (writes experiments/results/image_baselines.{md,json}):

    GANAD_DATA_DIR=../shared/data python experiments/run.py experiments/image_baselines.py

For every image protocol a table in experiments/ uses, at the image size its models read, two
reference detectors fitted on the training normals (`ganad_jax.evaluation.baselines`, settings
fixed before any run): PCA reconstruction error on the pixels ("pca": standardised pixels, the
components keeping 90 % of the training variance) and the distance to the nearest training
normal ("knn": Euclidean, on the pixels in [-1, 1]). Thresholds at the 0.95 quantile of the
validation normals, as in those tables. Nothing is trained or tuned; the seed only names the
row.

- MNIST one-class-anomalous, digits 0, 1, 3, 9 at 32x32 (experiments/ganomaly_mnist.py: 0, 3,
  9; experiments/bigan_family_images.py: 0, 1; the GANomaly paper-budget digits 1 and 3);
- the embedded MNIST, digits 0 and 3 at 32x32 (experiments/anogan_mnist.py, fanogan_mnist.py);
- CIFAR-10 one-class-anomalous, bird, cat, frog (experiments/cifar10_skip_ganomaly.py);
- CIFAR-10 one-class-normal, airplane and automobile normal (experiments/bigan_family_images.py);
- KolektorSDD at 64x64 (experiments/kolektorsdd_encoder_decoder.py, anogan_kolektorsdd.py,
  fanogan_kolektorsdd.py).

Results (experiments/results/image_baselines.md; AUROC, deterministic, one row each; fitting and
scoring took 0-228 s per row on the 2-core CPU, which the run shared with two experiments):

    protocol                                   pca     knn
    MNIST, anomaly digit 0                     0.649   0.980
    MNIST, anomaly digit 1                     0.204   0.473
    MNIST, anomaly digit 3                     0.626   0.943
    MNIST, anomaly digit 9                     0.572   0.733
    embedded MNIST, anomaly digit 0            0.602   0.972
    embedded MNIST, anomaly digit 3            0.612   0.923
    CIFAR-10 one-class-anomalous, bird         0.363   0.379
    CIFAR-10 one-class-anomalous, cat          0.478   0.592
    CIFAR-10 one-class-anomalous, frog         0.528   0.409
    CIFAR-10 one-class-normal, airplane        0.677   0.707
    CIFAR-10 one-class-normal, automobile      0.336   0.463
    KolektorSDD, 64x64                         0.617   0.596

The nearest training normal is a strong reference on MNIST: it is above every shortened GAN row
of experiments/ganomaly_mnist.py (GANomaly after one epoch: 0.889 / 0.835 / 0.595 for digits 0 /
3 / 9, against 0.980 / 0.943 / 0.733 here), so those rows show no gain from the GAN yet. Digit 1
is below chance for both baselines (the ones are the simplest digit, nearer to every training
normal than the normals are to each other), as users of GANomaly's released code report for the
GAN. On CIFAR-10 one-class-anomalous both baselines sit near or below chance, like the GAN rows
(experiments/cifar10_skip_ganomaly.py); on KolektorSDD at 64 px both are above the shortened
encoder-decoder rows (0.55-0.56, experiments/kolektorsdd_encoder_decoder.py). An earlier version
of this table had the two one-class-normal rows wrong: the harness applied only the last data
setting of a baseline row, so they ran one-class-anomalous (fixed in experiments/run.py, with a
test); these rows are from the fixed harness.
"""

from run import Baseline, Experiment

PROTOCOLS = (
    *(("mnist", (f"anomaly_class={d}", "image_size=32")) for d in (0, 1, 3, 9)),
    *(("mnist-embedded", (f"anomaly_class={d}", "image_size=32")) for d in (0, 3)),
    *(("cifar10", (f"anomaly_class={c}", "image_size=32")) for c in ("bird", "cat", "frog")),
    *(
        ("cifar10", ("protocol=one-class-normal", f"normal_class={c}", "image_size=32"))
        for c in ("airplane", "automobile")
    ),
    ("kolektorsdd", ("image_size=64",)),
)


def get_config() -> Experiment:
    """PCA and nearest-neighbour rows for every image protocol of the tables."""
    return Experiment(
        name="image_baselines",
        runs=(),
        baselines=tuple(
            Baseline(method, data, settings)
            for data, settings in PROTOCOLS
            for method in ("pca", "knn")
        ),
    )
