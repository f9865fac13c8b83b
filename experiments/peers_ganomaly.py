"""GANomaly side by side with anomalib's, on the identical split, image size and budget.

Command (writes experiments/results/peers_ganomaly.{md,json}); the peer rows need the `peers`
extra (anomalib), here in a second virtual environment that GANAD_PEER_PYTHON names:

    python -m venv ../peers && ../peers/bin/pip install -e ".[peers]"
    GANAD_DATA_DIR=../shared/data GANAD_PEER_PYTHON=../peers/bin/python \\
        python experiments/run.py experiments/peers_ganomaly.py [--keep-rows]

Each peer row (`peer anomalib_ganomaly ...`) is anomalib's Lightning GANomaly at its defaults,
trained by `experiments/peers/anomalib_ganomaly.py` on the arrays our runs read (the split is
exported by the harness, [-1, 1] pixels, grayscale repeated to the three channels anomalib's
module takes), with the same batch and the same number of updates, and its scores evaluated by the
same code as ours (thresholds at the 0.95 quantile of the validation normals). The versions that
ran are in the table. Seeds 0, 1, 2 on both sides (our runs take under 15 minutes a seed on the
2-core CPU; anomalib's took 11-23 minutes a seed on it, shared with another experiment); the
seeds cannot make the two libraries draw the same numbers, only the same budget.

- KolektorSDD, protocol mvtec, 128x128: 136 training normals, 15 validation normals, 117 test
  images (52 defective); batch 32, 15 epochs of 4 full batches = 60 updates (our `min_updates`
  floor is set to 0 so both train exactly 15 epochs; batch 32 is anomalib's default).
- MNIST one-class-anomalous, anomaly digit 3, 32x32: 48,482 training normals, 5,387 validation
  normals, 16,131 test images (7,141 anomalous); batch 64 (the paper's), one epoch of full
  batches on both sides (757 updates), the budget both finish three times.

Where the two implementations differ by design (neither is a bug of the harness): anomalib's
generator loss takes its adversarial term as the squared distance between D's sigmoid outputs
on real and reconstructed images, where the released code and ours match D's features
(`lib/model.py`: `l_adv(self.netd(self.input)[1], self.netd(self.fake)[1])`); anomalib never
re-initialises D (ours does not by default either: `reinit_d_below` is 0); and anomalib's
encoder term is PyTorch's SmoothL1Loss of z and z' (Huber with delta 1, so half the squared
distance for small differences), where the released code and ours take the squared distance
(`l2_loss`). The rows `+ python:anomalib_generator_loss` are a diagnostic of that difference:
our GANomaly with anomalib's two terms in place of its own (weights 0 on `adversarial` and
`encoder`, `extra_terms` with anomalib's forms, weight 1 each, as `anomalib_adversarial` and
`anomalib_encoder` below), all else unchanged. They were added after the first peer row on
KolektorSDD came out above ours, to ask whether the loss explains the gap; they select nothing
and the library's default stays the released code's.

Added after the three-seed result below (decided before any of these ran): on KolektorSDD,
seeds 3, 4 and 5 on both sides, and our GANomaly reading the identical three-channel input that
anomalib's module reads (`channels=3`: the grayscale repeated, which is bit-equal to the exported
split), seeds 0, 1 and 2. The comparison the issue asks for is then made on the six seeds of
each side, whatever they give; the three-seed rows stay in the table. (The three-channel rows
were first planned for six seeds trained one after another, `seed_mapping=sequential`, to fit
the memory beside another experiment; at 20 of 60 steps after 27 minutes that did not fit the
session, and it was stopped and cut to three seeds in one program before any of it was scored.)
The new rows ran with `--keep-rows`, which trains only the rows the committed table lacks.

Added once the six seeds of each side were in (before it ran), as a diagnostic like the
generator-loss rows: a comparison of the two modules layer by layer found that anomalib's
encoders and discriminator pad their first convolution by 4 (`Conv2d(C, 64, 4, 2, padding=4)`
in `anomalib/models/image/ganomaly/torch_model.py`, its `Encoder`'s `input_layers`; first map
67x67 at 128 px), where the released `Encoder` (`lib/networks.py`) and ours pad by 1 (64x64);
the parameter counts are equal (G 38,359,424, D 11,164,416 at 3 channels). The rows `--set
first_padding=4` are our GANomaly with anomalib's padding, seeds 0, 1, 2, all else unchanged;
they select nothing and the default stays the released code's.

Six-seed results (experiments/results/peers_ganomaly.md): on KolektorSDD ours 0.490 +- 0.029
(seeds 3-5: 0.466 / 0.502 / 0.496), anomalib 0.553 +- 0.039 (seeds 3-5: 0.540 / 0.522 / 0.592):
ours falls short by 0.063, about three standard errors, so the gap is not seed noise. Neither
diagnostic closes it: on anomalib's three-channel input ours scores 0.483 +- 0.041 (0.454 /
0.464 / 0.529), and with anomalib's first-layer padding 0.476 +- 0.046 (0.444 / 0.454 / 0.528).
What remains untested: anomalib's BatchNorm scales drawn from N(1, 0.02) (the released code's
too), PyTorch's unbiased running variance, and the two frameworks' numerics. Wall times on the
shared CPU: ours 2,110 s for seeds 3-5 in one program, 2,359 s (three channels) and 1,945 s
(padding 4); anomalib 1,119-1,256 s a seed.

Results (experiments/results/peers_ganomaly.md; image AUROC of the latent score, mean +- std
over seeds 0, 1, 2; anomalib 2.7.0, lightning 2.6.6, torch 2.14.1 on the CPU):

| data, budget | ours | anomalib | ours with anomalib's G loss (diagnostic) |
|---|---|---|---|
| KolektorSDD 128 px, 60 updates | 0.491 +- 0.042 | 0.555 +- 0.049 | 0.524 +- 0.020 |
| MNIST digit 3, 757 updates | 0.828 +- 0.013 | 0.814 +- 0.024 | |

On MNIST ours is above anomalib's in the mean (by 0.014; per seed ours 0.836 / 0.814 / 0.835,
anomalib 0.804 / 0.842 / 0.797). On KolektorSDD ours falls short of anomalib's:
by 0.064 in the mean, with a spread of about 0.045 per side over three seeds and both near
chance after 60 updates (per seed: ours 0.528 / 0.446 / 0.499, anomalib 0.607 / 0.509 / 0.548).
What was tried: the diagnostic rows put anomalib's two generator terms into ours and land
between the two (0.504 / 0.543 / 0.525), so the loss does not explain the gap by itself; the
remaining differences are anomalib's three input channels, its BatchNorm scales drawn from
N(1, 0.02) and the data order. Our reconstruction head on the same runs scores 0.553 +- 0.006;
it is reported, not selected (the default head is the paper's). Nothing here was tuned on the
test split. Wall times (the 2-core CPU shared with one other experiment throughout, so only
roughly comparable): KolektorSDD, ours 1,124 s for the three seeds in one program, anomalib
832-887 s per seed; MNIST, ours 879 s for three, anomalib 641-1,356 s per seed.
"""

import jax
import jax.numpy as jnp
import optax
from run import Experiment, Peer, Run

SEEDS = (0, 1, 2)
MORE_SEEDS = (0, 1, 2, 3, 4, 5)  # KolektorSDD's seeds since the first three fell short
KOLEKTOR = ("image_size=128",)
KOLEKTOR_OURS = (*KOLEKTOR, "batch_size=32", "epochs=15", "min_updates=0")
RGB = ("channels=3",)  # the three channels anomalib's module reads
PAD4 = ("first_padding=4",)  # anomalib's first-layer padding (a diagnostic)
MNIST = ("anomaly_class=3", "image_size=32")


def anomalib_adversarial(t: dict) -> jnp.ndarray:
    """anomalib's adversarial term: the squared distance of D's sigmoid outputs on x and x'."""
    return jnp.square(jax.nn.sigmoid(t["logit_real"]) - jax.nn.sigmoid(t["logit_fake"]))


def anomalib_encoder(t: dict) -> jnp.ndarray:
    """anomalib's encoder term: PyTorch's SmoothL1Loss (Huber, delta 1) of z and z', per example."""
    return optax.huber_loss(t["z"], t["z_hat"], delta=1.0).reshape(len(t["z"]), -1).mean(-1)


ANOMALIB_LOSS = {
    "loss_weights": {"g": {"adversarial": 0.0, "encoder": 0.0}},
    "extra_terms": {"g": {"anomalib_adversarial": anomalib_adversarial,
                          "anomalib_encoder": anomalib_encoder}},
}  # fmt: skip


def get_config() -> Experiment:
    """Ours and anomalib's GANomaly on KolektorSDD (128 px, 15 epochs) and MNIST digit 3."""
    return Experiment(
        name="peers_ganomaly",
        runs=(
            *(Run("ganomaly", "kolektorsdd", KOLEKTOR_OURS, seed=s) for s in MORE_SEEDS),
            *(Run("ganomaly", "mnist", (*MNIST, "epochs=1"), seed=s) for s in SEEDS),
            *(Run("ganomaly", "kolektorsdd", (*KOLEKTOR_OURS, *RGB), seed=s) for s in SEEDS),
            *(Run("ganomaly", "kolektorsdd", (*KOLEKTOR_OURS, *PAD4), seed=s) for s in SEEDS),
            *(
                Run(
                    "ganomaly",
                    "kolektorsdd",
                    KOLEKTOR_OURS,
                    seed=s,
                    overrides=ANOMALIB_LOSS,
                    extension="anomalib_generator_loss",
                )
                for s in SEEDS
            ),
        ),  # fmt: skip
        peers=(
            *(
                Peer(
                    "anomalib_ganomaly",
                    "kolektorsdd",
                    KOLEKTOR,
                    s,
                    ("--epochs", "15", "--batch-size", "32"),
                )
                for s in MORE_SEEDS
            ),
            *(
                Peer(
                    "anomalib_ganomaly", "mnist", MNIST, s, ("--epochs", "1", "--batch-size", "64")
                )
                for s in SEEDS
            ),
        ),  # fmt: skip
    )
