"""Skip-GANomaly, DED-GAN and their shared pieces: the U-Net, the DED-GAN weight function, the
score formulas, anomaly maps and their smoothing, image sizes 64 to 256."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import sample_inputs, tiny_config

from ganad_jax import detectors, losses
from ganad_jax.detectors import ded_gan, ganomaly_family, skip_ganomaly
from ganad_jax.nn.unet import UNet, unet_widths


@pytest.fixture(scope="module")
def skip_state():
    """A tiny Skip-GANomaly after one training step, and its inputs."""
    config = tiny_config("skip-ganomaly")
    x = jnp.asarray(sample_inputs("skip-ganomaly", config, config.batch_size))
    state = skip_ganomaly.init(config, jax.random.key(0), x)
    state, _ = jax.jit(lambda s, b: skip_ganomaly.train_step(config, s, b, jax.random.key(1)))(
        state, x
    )
    return config, state, x


def test_unet_widths_and_skips():
    assert unet_widths(64, 8) == [8, 16, 32, 64, 64, 64]
    x = jnp.zeros((2, 16, 16, 3))
    variables = jax.eval_shape(lambda: UNet(3, 4).init(jax.random.key(0), x, train=False))
    kernels = {
        path[0].key: leaf.shape
        for path, leaf in jax.tree_util.tree_leaves_with_path(variables["params"])
        if path[-1].key == "kernel"
    }
    assert [kernels[f"Conv_{i}"][3] for i in range(4)] == unet_widths(16, 4) == [4, 8, 16, 32]
    # every decoder stage after the first sees its input concatenated with the encoder's skip
    assert [kernels[f"ConvTranspose_{i}"][2:] for i in range(4)] == [
        (32, 16),
        (16 + 16, 8),
        (8 + 8, 4),
        (4 + 4, 3),
    ]
    with pytest.raises(ValueError, match="power of two"):
        unet_widths(48, 8)


@pytest.mark.slow
def test_skip_connections_carry_fine_detail():
    # one changed input pixel moves the output pixel right there, through the 8x8 skip
    model = UNet(1, 4)
    # not zeros: the ReLU on each concatenation has no gradient where the skip is exactly 0
    x = jax.random.uniform(jax.random.key(1), (1, 16, 16, 1), minval=-1.0, maxval=1.0)
    variables = model.init(jax.random.key(0), x, train=False)
    grad = jax.grad(lambda v: model.apply(variables, v, train=False)[0, 5, 5, 0])(x)
    assert float(jnp.abs(grad[0, 5, 5, 0])) > 0


@pytest.mark.parametrize("name", ["skip-ganomaly", "ded-gan"])
@pytest.mark.parametrize("size", [64, 128, 256])
def test_image_sizes(name, size):
    detector = detectors.get(name)
    config = tiny_config(name, image_size=size, batch_size=2)
    x = jnp.zeros((2, size, size, 3))
    state = jax.eval_shape(lambda: detector.init(config, jax.random.key(0), x))
    out = jax.eval_shape(lambda s: detector.score(config, s, x), state)
    assert out.anomaly_map.shape == (2, size, size)
    assert out.reconstruction.shape == x.shape


def test_skip_ganomaly_defaults_are_the_papers():
    config = skip_ganomaly.SkipGANomalyConfig()
    assert config.weights("g") == {"adversarial": 1.0, "contextual": 40.0, "latent": 1.0}
    assert config.score_weight == 0.1 and config.score_head == "combined"  # lambda 0.9
    with pytest.raises(ValueError, match="score_weight"):
        skip_ganomaly.SkipGANomalyConfig(score_weight=1.5)


def test_skip_ganomaly_score_is_the_weighted_sum(skip_state):
    config, state, x = skip_state
    out = skip_ganomaly.score(config, state, x)
    expected = 0.9 * out.heads["reconstruction"] + 0.1 * out.heads["latent"]
    np.testing.assert_allclose(out.value, expected, rtol=1e-6)
    np.testing.assert_allclose(
        out.heads["reconstruction"], losses.l2_mean(x, out.reconstruction), rtol=1e-6
    )
    np.testing.assert_allclose(out.anomaly_map, jnp.abs(x - out.reconstruction).mean(-1))


def test_map_smoothing(skip_state):
    config, state, x = skip_state
    raw = skip_ganomaly.score(config, state, x).anomaly_map
    smoothed = skip_ganomaly.score(tiny_config("skip-ganomaly", map_sigma=1.5), state, x)
    np.testing.assert_allclose(smoothed.anomaly_map, ganomaly_family.smooth(raw, 1.5))
    assert float(smoothed.anomaly_map.std()) < float(raw.std())


def test_smooth():
    kernel = ganomaly_family.gaussian_kernel(2.0)
    assert float(kernel.sum()) == pytest.approx(1.0) and kernel.shape == (17,)
    constant = jnp.full((1, 9, 9), 3.0)
    np.testing.assert_allclose(ganomaly_family.smooth(constant, 2.0), constant, rtol=1e-6)
    delta = jnp.zeros((1, 21, 21)).at[0, 10, 10].set(1.0)
    blurred = ganomaly_family.smooth(delta, 1.0)
    np.testing.assert_allclose(blurred[0], blurred[0].T, atol=1e-7)
    assert float(blurred.sum()) == pytest.approx(1.0, abs=1e-5)
    assert ganomaly_family.smooth(delta, 0.0) is delta


def test_ded_gan_weight_function():
    config = ded_gan.DEDGANConfig(adversarial_ramp_steps=100)
    weights = [float(ded_gan.adversarial_weight(config, jnp.int32(t))) for t in (0, 100, 1000)]
    assert weights[0] == 0.0
    assert weights[1] == pytest.approx(1 - np.exp(-1.0))
    assert weights[2] == pytest.approx(1.0, abs=1e-4)
    off = ded_gan.DEDGANConfig(adversarial_ramp_steps=0)
    assert float(ded_gan.adversarial_weight(off, jnp.int32(0))) == 1.0


def test_ded_gan_step_and_score():
    config = tiny_config("ded-gan")
    x = jnp.asarray(sample_inputs("ded-gan", config, config.batch_size))
    state = ded_gan.init(config, jax.random.key(0), x)
    step = jax.jit(lambda s, b: ded_gan.train_step(config, s, b, jax.random.key(1)))
    state, first = step(state, x)
    state, second = step(state, x)
    assert float(first["adversarial_weight"]) == 0.0  # step 0: reconstruction and codes only
    assert float(second["adversarial_weight"]) == pytest.approx(1 - np.exp(-0.5))
    out = ded_gan.score(config, state, x)
    generator, _ = ded_gan.networks(config, x)
    x2, x1, z1, z2 = generator.apply(
        {"params": state.params["g"], "batch_stats": state.batch_stats["g"]}, x, train=False
    )
    assert out.default == "latent"
    np.testing.assert_allclose(out.value, losses.latent_consistency(z1, z2), rtol=1e-6)
    np.testing.assert_allclose(out.reconstruction, x2)
    assert not np.allclose(x1, x2)  # two distinct sub-networks
