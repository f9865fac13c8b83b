"""PyTorch references of the detectors' training step and scoring pass, for `ganad bench --torch`.

Written for this project after `../shared/bench/torch_ganomaly_ref.py` (the reference the speed
goal is measured against): the same DCGAN architecture as `ganad_jax.nn.dcgan` at any power-of-two
size and channel count, the same losses and Adam, NCHW as PyTorch code is usually written. One
difference from the shared script, to compare equal work: the generator update does not compute
gradients of D's parameters (the shared script, like GANomaly's released code, computes and
discards them, about 50 M extra multiply-adds per image at 32x32), so both frameworks run the
~310 M multiply-adds per image that `ganad_jax.nn.flops` counts. torch is imported lazily: it is
the optional `bench` extra.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple


class TorchReference(NamedTuple):
    """A detector's training step and scoring pass in PyTorch on one fixed random batch."""

    train_step: Callable[[], None]
    score: Callable[[], Any]


def _dcgan(torch: Any, image_size: int, channels: int, latent: int, features: int) -> tuple:
    """(encoder factory, decoder factory) mirroring ganad_jax.nn.dcgan."""
    nn = torch.nn
    stages = int(math.log2(image_size)) - 2

    def encoder(outputs: int) -> Any:
        layers = [nn.Conv2d(channels, features, 4, 2, 1, bias=False), nn.LeakyReLU(0.2)]
        width = features
        for _ in range(stages - 1):
            layers += [
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width * 2),
                nn.LeakyReLU(0.2),
            ]
            width *= 2
        layers.append(nn.Conv2d(width, outputs, 4, 1, 0, bias=False))
        return nn.Sequential(*layers)

    def decoder() -> Any:
        width = features * 2 ** (stages - 1)
        layers = [nn.ConvTranspose2d(latent, width, 4, 1, 0, bias=False), nn.BatchNorm2d(width)]
        layers.append(nn.ReLU())
        for _ in range(stages - 1):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width // 2),
                nn.ReLU(),
            ]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
        return nn.Sequential(*layers)

    return encoder, decoder


def ganomaly(config: Any, channels: int, batch: int) -> TorchReference:
    """GANomaly's step (G update, then D update on the detached reconstruction) and latent score."""
    import torch

    nn = torch.nn
    torch.manual_seed(0)
    encoder, decoder = _dcgan(torch, config.image_size, channels, config.latent, config.features)

    class Generator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder1, self.decoder, self.encoder2 = (
                encoder(config.latent),
                decoder(),
                encoder(config.latent),
            )

        def forward(self, x: Any) -> tuple:
            z = self.encoder1(x)
            x_hat = self.decoder(z)
            return x_hat, z, self.encoder2(x_hat)

    class Discriminator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            body = list(encoder(1).children())
            self.features, self.classifier = nn.Sequential(*body[:-1]), body[-1]

        def forward(self, x: Any) -> tuple:
            f = self.features(x)
            return self.classifier(f).view(-1), f

    g, d = Generator(), Discriminator()
    adam = {"lr": config.lr, "betas": (config.beta1, config.beta2)}
    g_opt, d_opt = (
        torch.optim.Adam(g.parameters(), **adam),
        torch.optim.Adam(d.parameters(), **adam),
    )
    bce = nn.BCEWithLogitsLoss()
    w = config.weights("g")
    x = torch.rand(batch, channels, config.image_size, config.image_size) * 2 - 1

    def train_step() -> None:
        g.train()
        x_hat, z, z_hat = g(x)
        # D is frozen for G's update: gradients of its parameters would be discarded.
        d.requires_grad_(False)
        _, f_real = d(x)
        _, f_fake = d(x_hat)
        g_loss = (
            w["adversarial"] * (f_real - f_fake).pow(2).mean()
            + w["contextual"] * (x - x_hat).abs().mean()
            + w["encoder"] * (z - z_hat).pow(2).mean()
        )
        g_opt.zero_grad()
        g_loss.backward()
        g_opt.step()
        d.requires_grad_(True)
        real_logit, _ = d(x)
        fake_logit, _ = d(x_hat.detach())
        d_loss = 0.5 * (
            bce(real_logit, torch.ones_like(real_logit))
            + bce(fake_logit, torch.zeros_like(fake_logit))
        )
        d_opt.zero_grad()
        d_loss.backward()
        d_opt.step()

    def score() -> tuple:
        """The heads and the anomaly map of ganad_jax's GANomaly score."""
        g.eval()
        with torch.inference_mode():
            x_hat, z, z_hat = g(x)
            residual = (x - x_hat).abs()
            return (
                (z - z_hat).pow(2).flatten(1).mean(1),
                residual.flatten(1).mean(1),
                residual.mean(1),
            )

    return TorchReference(train_step, score)


REFERENCES: dict[str, Callable[[Any, int, int], TorchReference]] = {"ganomaly": ganomaly}
"""Detector name -> builder(config, channels, batch) of its PyTorch reference."""
