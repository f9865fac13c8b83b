"""What the library offers, known without starting JAX: the detectors' names, the data they take,
their one-line descriptions and the module that implements each, and the ensemble's modes.

`ganad --help`, `ganad list` and argument parsing read this; `ganad_jax.detectors.get` imports the
implementing module only when a detector is used. The registry takes each detector's modalities
and description from here, so they are written once.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Entry:
    """One detector: its registered name, the module under `ganad_jax.detectors` that registers
    it, the modalities it takes and a one-line description with its paper."""

    name: str
    module: str
    modalities: tuple[str, ...]
    description: str


_BOTH = ("image", "tabular")

DETECTORS: dict[str, Entry] = {
    entry.name: entry
    for entry in (
        Entry(
            "alad",
            "alad",
            _BOTH,
            "ALAD (Zenati et al., ICDM 2018): BiGAN + D_xx, D_zz cycle consistency; "
            "D_xx feature score",
        ),
        Entry(
            "anogan",
            "anogan",
            _BOTH,
            "AnoGAN (Schlegl et al., IPMI 2017): DCGAN, per-sample latent search",
        ),
        Entry(
            "bigan",
            "bigan",
            _BOTH,
            "BiGAN (Donahue et al., ICLR 2017): encoder, generator, D(x, z); L1 score",
        ),
        Entry(
            "ce-bigan",
            "cebigan",
            _BOTH,
            "Consistency-ensured BiGAN (Komoto et al., IW-FCV 2020): consistency loss, "
            "projection discriminator",
        ),
        Entry("dcgan", "gan", _BOTH, "DCGAN (Radford et al., ICLR 2016): non-saturating GAN"),
        Entry(
            "ded-gan",
            "ded_gan",
            ("image",),
            "DED-GAN (Liu et al., Industrial Robot 2021): two encoder-decoders, code distance",
        ),
        Entry(
            "egbad",
            "egbad",
            _BOTH,
            "EGBAD (Zenati et al., ICLRW 2018): BiGAN, reconstruction + feature score",
        ),
        Entry(
            "f-anogan",
            "fanogan",
            _BOTH,
            "f-AnoGAN (Schlegl et al., MedIA 2019): WGAN-GP, then an izif encoder",
        ),
        Entry(
            "ganomaly",
            "ganomaly",
            ("image",),
            "GANomaly (Akcay et al., ACCV 2018): encoder-decoder-encoder generator, latent score",
        ),
        Entry(
            "mad-gan",
            "mad_gan",
            ("series",),
            "MAD-GAN (Li et al., ICANN 2019): LSTM GAN on windows, DR-score after inversion",
        ),
        Entry(
            "skip-ganomaly",
            "skip_ganomaly",
            ("image",),
            "Skip-GANomaly (Akcay et al., IJCNN 2019): U-Net generator, D-feature score",
        ),
        Entry(
            "wgan",
            "gan",
            _BOTH,
            "WGAN (Arjovsky et al., ICML 2017): critic with weight clipping",
        ),
        Entry(
            "wgan-gp",
            "gan",
            _BOTH,
            "WGAN-GP (Gulrajani et al., NeurIPS 2017): critic with a gradient penalty",
        ),
    )
}

ENSEMBLE_MODES = ("pair", "all", "independent", "code")
"""How a GAN ensemble trains (see `ganad_jax.detectors.ensemble`): one random pair per step, every pair
every step, every member on its own, or the released code's iteration (every discriminator against
all generators, then every generator against all discriminators; BiGAN family only)."""


def names() -> list[str]:
    """Names of all detectors, sorted."""
    return sorted(DETECTORS)


def entry(name: str) -> Entry:
    """The catalog entry of detector `name`; KeyError naming the known ones otherwise."""
    if name not in DETECTORS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(names())}")
    return DETECTORS[name]
