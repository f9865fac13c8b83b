"""Fidelity to the released code of WGAN and f-AnoGAN: RMSProp in PyTorch's and TensorFlow's forms
against their formulas written out in numpy, WGAN's reference critic schedule, f-AnoGAN's bounded
encoder and its ResNets (shapes, and the 64x64 parameter count against the released layer list)."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import sample_inputs, tiny_config

from ganad_jax import detectors, optim
from ganad_jax.detectors import fanogan, gan
from ganad_jax.nn import resnet

GRADS = np.array([[0.5, -2.0, 1e-3], [1.5, 0.25, -1e-3], [-0.75, 1.0, 2e-3]], np.float32)
P0 = np.array([1.0, -1.0, 0.5], np.float32)


def _reference_rmsprop(form: str, lr: float, decay: float, eps: float) -> list[np.ndarray]:
    """The parameters after each of the GRADS, by the frameworks' update rules (float64):
    PyTorch's RMSprop: v = alpha v + (1 - alpha) g^2 from v = 0, p -= lr g / (sqrt(v) + eps);
    TF1's RMSPropOptimizer (momentum 0): ms from 1 (its "rms" slot), ms = decay ms +
    (1 - decay) g^2, p -= lr g / sqrt(ms + eps); optax's rmsprop: as TF's from 0."""
    p = P0.astype(np.float64)
    v = np.ones_like(p) if form == "tf" else np.zeros_like(p)
    out = []
    for g in GRADS.astype(np.float64):
        v = decay * v + (1 - decay) * g**2
        denominator = np.sqrt(v) + eps if form == "torch" else np.sqrt(v + eps)
        p = p - lr * g / denominator
        out.append(p)
    return out


def _updates(optimizer: optax.GradientTransformation) -> list[np.ndarray]:
    """The parameters after each of the GRADS, by the package's update path."""
    params, out = jnp.asarray(P0), []
    state = optimizer.init(params)
    for g in GRADS:
        params, state = optim.step(optimizer, params, state, jnp.asarray(g))
        out.append(np.asarray(params))
    return out


def _run(spec: optim.Spec) -> list[np.ndarray]:
    return _updates(spec.build())


@pytest.mark.parametrize("form", list(optim.RMSPROP_FORMS))
@pytest.mark.parametrize("eps", [None, 0.3])  # 0.3: where epsilon goes shows in the update
def test_rmsprop_forms_follow_their_frameworks_formulas(form, eps):
    spec = optim.Spec.rmsprop(0.01, form)
    if eps is not None:
        spec = optim.Spec("rmsprop", 0.01, decay=spec.decay, eps=eps, form=form)
    for got, want in zip(
        _run(spec), _reference_rmsprop(form, 0.01, spec.decay, spec.eps), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-7)


def test_rmsprop_forms_differ_and_carry_their_frameworks_defaults():
    assert optim.RMSPROP_FORMS == {"optax": (0.9, 1e-8), "torch": (0.99, 1e-8), "tf": (0.9, 1e-10)}
    runs = {
        form: _run(optim.Spec("rmsprop", 0.01, decay=0.9, eps=0.3, form=form))[-1]
        for form in optim.RMSPROP_FORMS
    }
    assert not np.allclose(runs["optax"], runs["torch"]) and not np.allclose(
        runs["optax"], runs["tf"]
    )
    # the default form is optax's, as before the forms existed (AnoGAN's search, MAD-GAN's inversion)
    assert optim.Spec("rmsprop", 0.01).form == "optax"
    np.testing.assert_array_equal(
        _run(optim.Spec("rmsprop", 0.01, decay=0.99)), _updates(optax.rmsprop(0.01, decay=0.99))
    )
    with pytest.raises(ValueError, match="rmsprop form"):
        optim.Spec("rmsprop", 0.01, form="keras").build()


def test_default_optimizers_are_the_reference_codes():
    wgan = gan.WGANConfig()
    for network in ("g", "d"):  # martinarjovsky/WassersteinGAN: optim.RMSprop(lr=5e-5)
        assert wgan.optimizer_spec(network) == optim.Spec(
            "rmsprop", 5e-5, decay=0.99, eps=1e-8, form="torch"
        )
    config = fanogan.FAnoGANConfig()  # z_encoding_izif.py: tf.train.RMSPropOptimizer(5e-5)
    assert config.optimizer_spec("e") == optim.Spec(
        "rmsprop", 5e-5, decay=0.9, eps=1e-10, form="tf"
    )
    for network in ("g", "d"):  # wgangp_64x64.py: AdamOptimizer(1e-4, beta1=0., beta2=0.9)
        assert config.optimizer_spec(network) == optim.Spec("adam", 1e-4, b1=0.0, b2=0.9)
    assert (config.networks, config.encoder_output, config.critic_norm, config.encoder_norm) == (
        "resnet",
        "tanh",
        "layer",
        "batch",
    )
    assert (wgan.critic_schedule, wgan.networks) == ("fixed", "dcgan")


def _counted_step(detector, config):
    """The jitted train step of `config`, failing if it is traced twice."""

    def train_step(state, batch, key):
        return detector.train_step(config, state, batch, key)

    return jax.jit(chex.assert_max_traces(train_step, n=1))


def test_wgan_critic_schedule_runs_100_critic_updates_early_and_every_500th_step():
    # Adam's update count in D's optimizer state counts the critic updates of one step.
    detector = detectors.get("wgan")
    counts = {}
    for schedule in ("wgan", "fixed"):
        config = tiny_config("wgan", critic_schedule=schedule, optimizers={"d": optax.adam(1e-3)})
        x = jnp.asarray(sample_inputs("wgan", config, config.batch_size, modality="tabular"))
        state = detector.init(config, jax.random.key(0), x)
        step = _counted_step(detector, config)
        chex.clear_trace_counter()
        for i, at in enumerate((0, 24, 25, 499, 500, 1000)):
            s = state.replace(step=jnp.asarray(at, state.step.dtype))
            new, _ = step(s, x, jax.random.key(i))
            counts[schedule, at] = int(new.opt_state["d"][0].count)
    n = tiny_config("wgan").n_critic
    assert [counts["wgan", at] for at in (0, 24, 25, 499, 500, 1000)] == [100, 100, n, n, 100, 100]
    assert {counts["fixed", at] for at in (0, 24, 25, 499, 500, 1000)} == {n}


def test_fanogan_encoder_is_bounded_by_tanh_in_training_and_scoring():
    config = tiny_config("f-anogan")
    x = 1e3 * jnp.asarray(sample_inputs("f-anogan", config, 4))  # images: the ResNet encoder
    state = detectors.get("f-anogan").init(config, jax.random.key(0), x)
    params, stats = state.params["e"], state.batch_stats["e"]
    for train in (True, False):
        z, _ = fanogan.encode(config, params, stats, x, train=train)
        # tanh is in (-1, 1); float32 rounds its saturated values to +-1
        assert np.all(np.abs(np.asarray(z)) <= 1.0)
    linear = tiny_config("f-anogan", encoder_output="linear")
    z, _ = fanogan.encode(linear, params, stats, x, train=False)
    assert np.abs(np.asarray(z)).max() > 1.0
    with pytest.raises(ValueError, match="encoder_output"):
        tiny_config("f-anogan", encoder_output="clip")


def test_resnet_pooling_and_upsampling_are_the_released_ops():
    x = np.random.default_rng(0).normal(size=(2, 4, 6, 3)).astype(np.float32)
    # ConvMeanPool / MeanPoolConv (NCHW there, NHWC here): the mean of the four strided slices
    pooled = (x[:, ::2, ::2] + x[:, 1::2, ::2] + x[:, ::2, 1::2] + x[:, 1::2, 1::2]) / 4
    np.testing.assert_allclose(resnet.mean_pool(jnp.asarray(x)), pooled, rtol=1e-6, atol=1e-7)
    # UpsampleConv: four copies along the channels, then depth_to_space(2)
    tiled = np.concatenate([x] * 4, axis=-1)
    n, h, w, c4 = tiled.shape
    d2s = tiled.reshape(n, h, w, 2, 2, c4 // 4).transpose(0, 1, 3, 2, 4, 5)
    np.testing.assert_array_equal(resnet.upsample(jnp.asarray(x)), d2s.reshape(n, 2 * h, 2 * w, -1))


def _shapes(size: int, channels: int, features: int, latent: int = 128):
    x = jnp.zeros((2, size, size, channels))
    z = jnp.zeros((2, latent))
    modules = {
        "g": (resnet.Decoder(size, channels, features), z),
        "d": (resnet.Discriminator(features), x),
        "e": (resnet.Encoder(latent, features), x),
    }
    out = {}
    for name, (module, inputs) in modules.items():
        variables = jax.eval_shape(
            lambda m=module, i=inputs: m.init(jax.random.key(0), i, train=False)
        )
        shapes = jax.eval_shape(lambda v, m=module, i=inputs: m.apply(v, i, train=False), variables)
        params = sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(variables["params"]))
        out[name] = (jax.tree.map(lambda a: a.shape, shapes), params)
    return out


@pytest.mark.parametrize("size", [32, 64])
def test_resnet_output_shapes(size):
    shapes = _shapes(size, channels=3, features=8)
    assert shapes["g"][0] == (2, size, size, 3)
    assert shapes["d"][0] == ((2,), (2, 4, 4, 64))  # f: the last block's 4x4 x 8F map
    assert shapes["e"][0] == ((2, 128), (2, 4, 4, 64))


def test_resnet_64_has_the_released_parameter_count():
    # wgangp_64x64.py (DIM 64, ZDIM 128, one channel). Conv2D(i, o, k) has k*k*i*o weights and o
    # biases (none for a block's Conv1); Linear(i, o) i*o + o; a norm (tf BatchNorm, or tflib's
    # Layernorm over C, H, W) 2*C (scale and offset per channel; moving statistics are not
    # parameters). ResidualBlock(i, o) has a 1x1 shortcut (i*o + o), Norm1 on i, Conv1, Norm2 on
    # Conv1's output, Conv2 (with bias):
    #   'up':   i*o + o + 2i + 9*i*o + 2o + 9*o*o + o      (Conv1: i -> o, Conv2: o -> o)
    #   'down': i*o + o + 2i + 9*i*i + 2i + 9*i*o + o      (Conv1: i -> i, Conv2: i -> o)
    def up(i, o):
        return i * o + o + 2 * i + 9 * i * o + 2 * o + 9 * o * o + o

    def down(i, o):
        return i * o + o + 2 * i + 9 * i * i + 2 * i + 9 * i * o + o

    dim = 64
    # GoodGenerator: Linear(128, 4*4*8*dim), Res1-4 up (8,8), (8,4), (4,2), (2,1) x dim,
    # OutputN (BatchNorm on dim), Output Conv2D(dim, 1, 3)
    generator = (128 * 16 * 8 * dim + 16 * 8 * dim) + up(8 * dim, 8 * dim) + up(8 * dim, 4 * dim)
    generator += up(4 * dim, 2 * dim) + up(2 * dim, dim) + 2 * dim + (9 * dim * 1 + 1)
    # GoodDiscriminator: Input Conv2D(1, dim, 3), Res1-4 down (1,2), (2,4), (4,8), (8,8) x dim,
    # Output Linear(4*4*8*dim, 1); the Encoder is the same with Output Linear(4*4*8*dim, 128)
    body = (9 * 1 * dim + dim) + down(dim, 2 * dim) + down(2 * dim, 4 * dim)
    body += down(4 * dim, 8 * dim) + down(8 * dim, 8 * dim)
    critic = body + 16 * 8 * dim + 1
    encoder = body + 16 * 8 * dim * 128 + 128
    assert (generator, critic, encoder) == (8_539_329, 7_490_689, 8_531_200)
    shapes = _shapes(64, channels=1, features=dim)
    assert (shapes["g"][1], shapes["d"][1], shapes["e"][1]) == (generator, critic, encoder)


def test_fanogan_scores_with_the_resnets_and_dcgan_is_an_option():
    config = fanogan.FAnoGANConfig(image_size=32, features=4, latent=8)
    x = jnp.zeros((2, 32, 32, 1))
    generator, critic = gan.networks(config, x)
    assert isinstance(generator, resnet.Decoder) and isinstance(critic, resnet.Discriminator)
    assert isinstance(fanogan.encoder_network(config, x), resnet.Encoder)
    dcgan = fanogan.FAnoGANConfig(image_size=32, features=4, latent=8, networks="dcgan")
    assert type(gan.networks(dcgan, x)[1]).__module__ == "ganad_jax.nn.dcgan"
    with pytest.raises(ValueError, match="networks"):
        fanogan.FAnoGANConfig(networks="vgg")
