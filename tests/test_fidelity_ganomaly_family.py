"""GANomaly's and Skip-GANomaly's networks and training options against the released code
(samet-akcay/ganomaly, samet-akcay/skip-ganomaly): the discriminators' layer lists counted by hand,
the U-Net against a re-implementation of pix2pix's `UnetSkipConnectionBlock`, D's
re-initialisation and Skip-GANomaly's latent term in D's loss."""

from __future__ import annotations

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import sample_inputs, tiny_config, trees_equal
from jax import lax

from ganad_jax import detectors, losses
from ganad_jax.detectors import ganomaly, skip_ganomaly
from ganad_jax.nn import apply
from ganad_jax.nn.unet import UNet, unet_widths


def _count(params) -> int:
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(params))


def _biases(params) -> list[str]:
    """The paths of the biases of convolutions (BatchNorm's are its affine parameters)."""
    return [
        "/".join(p.key for p in path)
        for path, _ in jax.tree_util.tree_leaves_with_path(params)
        if path[-1].key == "bias" and not path[-2].key.startswith("BatchNorm")
    ]


def _paper_size_discriminator(module, x):
    variables = jax.eval_shape(lambda: module.init(jax.random.key(0), x, train=False))
    logit, features = jax.eval_shape(lambda v: module.apply(v, x, train=False), variables)
    return variables["params"], logit, features


def test_skip_ganomaly_discriminator_is_the_released_basic_discriminator():
    x = jnp.zeros((2, 32, 32, 3))  # the paper's size; ndf 64, nz 100 (the released defaults)
    _, discriminator = skip_ganomaly.networks(skip_ganomaly.SkipGANomalyConfig(), x)
    params, logit, features = _paper_size_discriminator(discriminator, x)
    assert logit.shape == (2,) and features.shape == (2, 1, 1, 100)
    # BasicDiscriminator (lib/models/networks.py), every convolution without bias:
    #   feat: Conv(3->64, 4x4 s2 p1) LeakyReLU(0.2); Conv(64->128) BN(128) LeakyReLU;
    #         Conv(128->256) BN(256) LeakyReLU; Conv(256->100, 4x4 s1 p0)
    #   clas: Conv(100->1, 3x3 s1 p1) Sigmoid
    layers = [3 * 64 * 16, 64 * 128 * 16, 2 * 128, 128 * 256 * 16, 2 * 256, 256 * 100 * 16, 100 * 9]
    assert sum(layers) == 1_069_700 == _count(params)
    assert params["classifier"]["Conv_0"]["kernel"].shape == (3, 3, 100, 1)
    assert _biases(params) == []


def test_ganomaly_discriminator_is_the_released_netd():
    x = jnp.zeros((2, 32, 32, 3))
    _, discriminator = ganomaly.networks(ganomaly.GANomalyConfig(), x)
    params, logit, features = _paper_size_discriminator(discriminator, x)
    # NetD (lib/networks.py): Encoder(isize, nz=1) without its last layer as the features (after
    # the LeakyReLU of the 256-channel 4x4 map), that last Conv(256->1, 4x4 s1 p0) the classifier
    layers = [3 * 64 * 16, 64 * 128 * 16, 2 * 128, 128 * 256 * 16, 2 * 256, 256 * 1 * 16]
    assert sum(layers) == 663_296 == _count(params)
    assert logit.shape == (2,) and features.shape == (2, 4, 4, 256)
    assert _biases(params) == []


def test_skip_ganomaly_logit_is_the_centre_tap_of_the_3x3_classifier():
    config = tiny_config("skip-ganomaly")
    x = jnp.asarray(sample_inputs("skip-ganomaly", config, 4))
    _, discriminator = skip_ganomaly.networks(config, x)
    variables = discriminator.init(jax.random.key(0), x, train=False)
    logit, features = discriminator.apply(variables, x, train=False)
    kernel = variables["params"]["classifier"]["Conv_0"]["kernel"]
    np.testing.assert_allclose(logit, features[:, 0, 0, :] @ kernel[1, 1, :, 0], rtol=1e-5)


# pix2pix's UnetSkipConnectionBlock, re-implemented block by block on our parameter names.

NHWC = ("NHWC", "HWIO", "NHWC")


def _conv(h, kernel):
    return lax.conv_general_dilated(h, kernel, (2, 2), ((1, 1), (1, 1)), None, None, NHWC)


def _conv_transpose(h, layer):
    # ConvTranspose2d(4, 2, 1) as the input-dilated convolution that parametrises ours
    out = lax.conv_general_dilated(h, layer["kernel"], (1, 1), ((2, 2), (2, 2)), (2, 2), None, NHWC)
    return out + layer["bias"].reshape(1, 1, 1, -1) if "bias" in layer else out


def _pix2pix_unet(params, stats, x, train: bool):
    """UnetGenerator's forward: levels 0 (outermost) to n-1 (innermost), each block running its
    `nn.Sequential` and returning cat([x, model(x)]) but the outermost; downrelu is in place, so
    the skip concatenated is the LeakyReLU'd block input."""
    n = len(unet_widths(x.shape[1], 1))

    def norm(h, index):
        name = f"BatchNorm_{index}"
        if train:
            mean, var = h.mean((0, 1, 2), keepdims=True), h.var((0, 1, 2), keepdims=True)
        else:
            mean, var = (stats[name][k].reshape(1, 1, 1, -1) for k in ("mean", "var"))
        scale, bias = (params[name][k].reshape(1, 1, 1, -1) for k in ("scale", "bias"))
        return (h - mean) / jnp.sqrt(var + 1e-5) * scale + bias

    def block(h, level):
        outermost, innermost = level == 0, level == n - 1
        if not outermost:
            h = jax.nn.leaky_relu(h, 0.2)  # downrelu, in place: h is also the skip below
        down = _conv(h, params[f"Conv_{level}"]["Conv_0"]["kernel"])
        if not (outermost or innermost):
            down = norm(down, level - 1)  # downnorm
        inner = down if innermost else block(down, level + 1)
        upconv = params[f"ConvTranspose_{n - 1 - level}"]["ConvTranspose_0"]
        up = _conv_transpose(jax.nn.relu(inner), upconv)  # uprelu, upconv
        if outermost:
            return jnp.tanh(up)
        return jnp.concatenate([h, norm(up, n - 2 + n - 1 - level)], axis=-1)  # upnorm

    return block(x, 0)


@pytest.mark.parametrize("train", [True, False])
def test_unet_is_pix2pix(train):
    size = 32  # the paper's: outermost, three intermediate blocks, innermost
    model = UNet(3, 2)
    x = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (3, size, size, 3)), jnp.float32)
    variables = model.init(jax.random.key(0), x, train=False)
    outermost = f"ConvTranspose_{len(unet_widths(size, 2)) - 1}"
    assert _biases(variables["params"]) == [f"{outermost}/ConvTranspose_0/bias"]
    rng = np.random.default_rng(1)

    def randomise(path, leaf):  # every parameter and statistic matters, biases and BN included
        shift = 1.0 if path[-1].key in ("scale", "var") else 0.0
        return jnp.asarray(shift + rng.uniform(-0.5, 0.5, leaf.shape), jnp.float32)

    params, stats = (
        jax.tree_util.tree_map_with_path(randomise, variables[c]) for c in ("params", "batch_stats")
    )
    got, _ = apply(model, params, stats, x, train=train)
    want = _pix2pix_unet(params, stats, x, train)
    assert got.shape == x.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


# D's re-initialisation (reinit_d_below) and Skip-GANomaly's latent term in D's loss.


def _one_step(name, key_seed=7, **overrides):
    detector = detectors.get(name)
    config = tiny_config(name, **overrides)
    x = jnp.asarray(sample_inputs(name, config, config.batch_size))
    state = detector.init(config, jax.random.key(0), x)
    chex.clear_trace_counter()  # lambdas of one source line share a counter
    step = chex.assert_max_traces(lambda s, k: detector.train_step(config, s, x, k), n=1)
    step = jax.jit(step)
    new, metrics = step(state, jax.random.key(key_seed))
    return config, x, state, new, metrics, step


@pytest.mark.parametrize(
    "name", ["ganomaly", pytest.param("skip-ganomaly", marks=pytest.mark.slow)]
)
def test_reinit_d_draws_new_weights_and_keeps_statistics_and_adam(name):
    config, x, _, plain, plain_metrics, _ = _one_step(name)
    assert "d_reinitialised" not in plain_metrics and config.reinit_d_below == 0.0
    _, _, _, never, metrics, _ = _one_step(name, reinit_d_below=1e-30)
    assert float(metrics["d_reinitialised"]) == 0.0
    assert trees_equal(never.params, plain.params)
    _, _, _, always, metrics, step = _one_step(name, reinit_d_below=1e9)
    assert float(metrics["d_reinitialised"]) == 1.0
    module = {"ganomaly": ganomaly, "skip-ganomaly": skip_ganomaly}[name]
    fresh = module.networks(config, x)[1].init(jax.random.key(7), x, train=False)["params"]
    chex.assert_trees_all_close(always.params["d"], fresh, rtol=1e-6, atol=1e-8)
    assert not trees_equal(always.params["d"], plain.params["d"])
    # the released reinit_d re-draws the weights only: running statistics and Adam stay
    chex.assert_trees_all_close(always.batch_stats, plain.batch_stats, rtol=1e-6)
    chex.assert_trees_all_close(always.opt_state, plain.opt_state, rtol=1e-6)
    chex.assert_trees_all_close(always.params["g"], plain.params["g"], rtol=1e-6)
    step(always, jax.random.key(8))  # a second step: no second trace


def test_skip_ganomaly_latent_term_in_d_loss():
    config = tiny_config("skip-ganomaly")
    assert config.weights("d") == {"latent": 0.0, "adversarial": 1.0}
    sgd = {"d": optax.sgd(1.0)}
    _, x, state, plain, metrics, _ = _one_step("skip-ganomaly", optimizers=sgd)
    np.testing.assert_allclose(metrics["d_loss"], metrics["d_adversarial"], rtol=1e-6)
    weight = 0.5
    with_latent = {"d": {"latent": weight}}
    _, _, _, pulled, latent_metrics, _ = _one_step(
        "skip-ganomaly", optimizers=sgd, loss_weights=with_latent
    )
    generator, discriminator = skip_ganomaly.networks(config, x)
    x_hat, _ = apply(generator, state.params["g"], state.batch_stats["g"], x, train=True)
    d_stats = state.batch_stats["d"]

    def latent(params):  # the released err_g_lat: D before its update, x and the reconstruction
        (_, f_real), _ = apply(discriminator, params, d_stats, x, train=True)
        (_, f_fake), _ = apply(discriminator, params, d_stats, x_hat, train=True)
        return losses.feature_matching(f_real, f_fake).mean()

    value, grads = jax.value_and_grad(latent)(state.params["d"])
    np.testing.assert_allclose(latent_metrics["d_latent"], value, rtol=1e-5)
    np.testing.assert_allclose(
        latent_metrics["d_loss"], metrics["d_loss"] + weight * value, rtol=1e-5
    )
    expected = jax.tree.map(lambda p, g: p - weight * g, plain.params["d"], grads)
    chex.assert_trees_all_close(pulled.params["d"], expected, rtol=1e-4, atol=1e-6)


def test_skip_ganomaly_scores_the_distance_of_the_codes():
    config, x, _, state, _, _ = _one_step("skip-ganomaly")
    out = skip_ganomaly.score(config, state, x)
    _, discriminator = skip_ganomaly.networks(config, x)
    d_params, d_stats = state.params["d"], state.batch_stats["d"]
    (_, f_real), _ = apply(discriminator, d_params, d_stats, x, train=False)
    (_, f_fake), _ = apply(discriminator, d_params, d_stats, out.reconstruction, train=False)
    assert f_real.shape == (len(x), 1, 1, config.latent)
    np.testing.assert_allclose(
        out.heads["latent"], ((f_real - f_fake) ** 2).mean(axis=(1, 2, 3)), rtol=1e-5
    )


def test_reinit_threshold_is_a_checked_field():
    with pytest.raises(ValueError, match="reinit_d_below"):
        dataclasses.replace(tiny_config("ganomaly"), reinit_d_below=-1.0)


def test_first_padding_4_is_anomalibs_first_layer_and_still_ends_at_4x4():
    # anomalib's input layer: Conv2d(C, 64, 4, stride 2, padding 4): (128 + 8 - 4) // 2 + 1 = 67,
    # then 67 -> 33 -> 16 -> 8 -> 4 (the released code: 128 -> 64 -> ... -> 4)
    x = jnp.zeros((2, 128, 128, 3))
    encoder = ganomaly.Encoder(100, 64, first_padding=4)
    variables = jax.eval_shape(lambda: encoder.init(jax.random.key(0), x, train=False))
    first = jax.eval_shape(
        lambda v: encoder.apply(v, x, train=False, capture_intermediates=True), variables
    )[1]["intermediates"]["Conv_0"]["__call__"][0]
    assert first.shape == (2, 67, 67, 64)
    z, features = jax.eval_shape(lambda v: encoder.apply(v, x, train=False), variables)
    assert z.shape == (2, 100) and features.shape == (2, 4, 4, 1024)
    reference = ganomaly.Encoder(100, 64)
    same = jax.eval_shape(lambda: reference.init(jax.random.key(0), x, train=False))
    assert _count(variables["params"]) == _count(same["params"])  # padding adds no weight
    _, _, d_features = _paper_size_discriminator(ganomaly.Discriminator(64, first_padding=4), x)
    assert d_features.shape == (2, 4, 4, 1024)
    with pytest.raises(ValueError, match="leaves a 5x5 map"):
        small = jnp.zeros((1, 16, 16, 1))
        ganomaly.Encoder(8, 4, first_padding=4).init(jax.random.key(0), small, train=False)
    config = tiny_config("ganomaly", first_padding=4, image_size=32)
    x = sample_inputs("ganomaly", config, 4)
    state = detectors.get("ganomaly").init(config, jax.random.key(0), x)
    assert detectors.get("ganomaly").score(config, state, x).value.shape == (4,)
