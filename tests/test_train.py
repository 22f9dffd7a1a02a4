"""The engine: stacked training reproduces plain torch, in both layouts and kernel backends; a
network's numbers do not depend on its stack-mates; bad input is refused before any work."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from springblock import kernels, train
from springblock.loops import train_reference
from springblock.train import TrainConfig, train_networks


def toy_data(n=256, n_test=200, d=100, seed=0):
    """Ten noisy Gaussian clusters in [0, 1]^d: small, fast, and learnable."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(10, d, generator=g)
    y, yt = torch.arange(n) % 10, torch.arange(n_test) % 10
    x = (centres[y] + 0.4 * torch.randn(n, d, generator=g)).clamp(0, 1)
    xt = (centres[yt] + 0.4 * torch.randn(n_test, d, generator=g)).clamp(0, 1)
    return SimpleNamespace(x_train=x, y_train=y, x_test=xt, y_test=yt, num_classes=10, name="toy",
                           description=f"toy clusters seed {seed}")


@pytest.fixture(scope="module")
def data():
    return toy_data()


# Four different networks in one stacked loop: every knob differs, incl. mini-batches,
# dropout and label+data noise, and one shares its seed with another.
SETTINGS = [
    TrainConfig(alpha=0.0, lr=1e-3, batch_size=64, epochs=3, seed=1),
    TrainConfig(alpha=0.3, lr=3e-3, dropout=0.2, batch_size=64, epochs=3, seed=2),
    TrainConfig(alpha=1.0, lr=1e-2, noise=0.4, batch_size=64, epochs=3, seed=3),
    TrainConfig(alpha=0.5, lr=2e-3, noise=0.2, dropout=0.1, batch_size=64, epochs=3, seed=1),
]

# BatchNorm makes the loss blind to the Linear biases before it and to the input-BN shift: their
# true gradient is 0 and what autograd returns is round-off, which Adam blows up to ±lr steps. They
# (and the running means that follow them) are compared in float64 only.
def _gauge(name):
    return (name.startswith("linears.") and name.endswith(".bias")) or name == "input_bn.bias" \
        or name.endswith("running_mean")


def _state_error(a, b, skip_gauge=False):
    sa, sb = a.state_dict(), b.state_dict()
    return max((sa[k].double() - sb[k].double()).abs().max().item() for k in sb
               if "num_batches" not in k and not (skip_gauge and _gauge(k)))


@pytest.mark.parametrize("backend", ["native", "public"])
@pytest.mark.parametrize("batch_size", [64, 128])  # 64: batch-major layout; 128: feature-major
def test_engine_reproduces_plain_torch_float64(data, backend, batch_size, monkeypatch):
    monkeypatch.setattr(kernels, "BACKEND", backend)
    assert train.layout(64) and not train.layout(128)
    settings = [TrainConfig(**{**c.asdict(), "batch_size": batch_size}) for c in SETTINGS]
    results = train_networks(settings, data, dtype=torch.float64, keep_models=True, progress=False, record_every=1)
    for cfg, res in zip(settings, results):
        ref = train_reference(cfg, data, dtype=torch.float64, keep_models=True, record_every=1)
        assert _state_error(res.model, ref.model) < 1e-8
        np.testing.assert_allclose(res.losses, ref.losses, rtol=0, atol=1e-10)
        assert res.test_acc == ref.test_acc and res.train_acc == ref.train_acc
        for kind in train.MEASURED_KINDS:
            np.testing.assert_allclose(res.load_train[kind], ref.load_train[kind], atol=1e-8)
            np.testing.assert_allclose(res.load_test[kind], ref.load_test[kind], atol=1e-8)
        np.testing.assert_allclose(res.history, ref.history, atol=1e-8)


def test_network_without_batchnorm_and_sgd_match_plain_torch(data):
    settings = [TrainConfig(alpha=0.3, norm="c_sigma", batch_size=64, epochs=2, seed=5, dropout=0.1),
                TrainConfig(alpha=0.0, norm="c_sigma", batch_size=256, epochs=3, seed=6),
                TrainConfig(alpha=0.2, optimizer="sgd", lr=0.05, batch_size=128, epochs=2, seed=7)]
    for cfg in settings:
        res = train_networks([cfg], data, dtype=torch.float64, keep_models=True, progress=False)[0]
        ref = train_reference(cfg, data, dtype=torch.float64, keep_models=True)
        assert _state_error(res.model, ref.model) < 1e-8, cfg
        np.testing.assert_allclose(res.losses, ref.losses, rtol=0, atol=1e-10)


def test_a_network_does_not_depend_on_its_stack_mates(small):
    """Alone or in stacks of 2, 5 and 8 (other α, rates, noise, dropout): bitwise the same numbers.
    MKL's strict reproducibility mode (set by springblock) is what makes the matrix products so."""
    assert kernels.blas_reproducible() in (True, None)
    others = [TrainConfig(alpha=a, lr=lr, dropout=p, noise=q, batch_size=bs, epochs=2, seed=s)
              for bs in (32, 320) for a, lr, p, q, s in [(0.2, 1e-2, 0.1, 0.0, 9), (1.0, 1e-3, 0.0, 0.3, 8),
                                                         (0.4, 3e-3, 0.2, 0.1, 7), (0.6, 1e-3, 0.0, 0.0, 6),
                                                         (0.8, 5e-3, 0.05, 0.2, 5), (0.0, 1e-3, 0.0, 0.0, 4),
                                                         (0.1, 2e-3, 0.1, 0.0, 3)]]
    for bs in (32, 320):  # both layouts
        target = TrainConfig(alpha=0.3, lr=2e-3, dropout=0.1, noise=0.1, batch_size=bs, epochs=2, seed=1)
        mates = [c for c in others if c.batch_size == bs]
        alone = train_networks([target], small, progress=False)[0]
        for m in (2, 5, 8):
            r = train_networks([target] + mates[:m - 1], small, progress=False)[0]
            assert np.array_equal(r.losses, alone.losses) and r.test_acc == alone.test_acc, (bs, m)
            for kind in train.MEASURED_KINDS:
                assert np.array_equal(r.load_train[kind], alone.load_train[kind]), (bs, m, kind)
                assert np.array_equal(r.load_test[kind], alone.load_test[kind]), (bs, m, kind)


def test_numpy_scalars_are_numbers():
    cfg = TrainConfig(lr=np.float32(1e-3), alpha=np.float64(0.2), epochs=np.int64(3))
    assert cfg.lr == pytest.approx(1e-3) and type(cfg.lr) is float and type(cfg.epochs) is int


def test_engine_reproduces_plain_torch_float32(data):
    # In float32 the two differ by round-off, and round-off is not always small here: a gradient
    # that BatchNorm makes exactly 0 comes out as noise that Adam turns into ±lr steps, and a
    # pre-activation within round-off of 0 can take the other LeakyReLU slope. So float32 is held
    # to the losses, loosely; the exact comparison is the float64 one above.
    results = train_networks(SETTINGS, data, progress=False)
    for cfg, res in zip(SETTINGS, results):
        ref = train_reference(cfg, data)
        np.testing.assert_allclose(res.losses, ref.losses, rtol=2e-3)
        assert abs(res.test_acc - ref.test_acc) <= 1.0  # at most 2 of 200 test points flip


def test_result_contents(data):
    cfg = TrainConfig(alpha=0.2, batch_size=32, epochs=4, seed=5)  # 32 steps: BN running stats settle
    (res,) = train_networks([cfg], data, progress=False, record_every=2)
    assert res.config == cfg and res.epochs_run == 4 and res.losses.shape == (4,)
    assert res.losses[-1] < res.losses[0]
    assert set(res.load_train) == set(train.MEASURED_KINDS) and res.load_train["trace"].shape == (8,)
    assert 0 <= res.test_acc <= 100 and res.train_acc > 50
    assert set(res.arrays()) >= {"test_acc", "losses", "load_train_trace", "load_test_pinv", "history", "diverged"}
    assert not res.diverged and res.arrays()["diverged"].dtype == bool
    assert list(res.history_epochs) == [0, 2, 4] and res.history.shape == (3, 8)
    np.testing.assert_allclose(res.history[-1], res.load_train["trace"], atol=1e-5)
    assert res.model is None


@pytest.mark.parametrize("value", [0.0, 0.1, -0.002])
def test_a_network_on_collapsed_inputs_is_flagged_not_given_a_shape(data, value):
    flat = SimpleNamespace(**{**vars(data), "x_train": torch.full_like(data.x_train, value),
                              "x_test": torch.full_like(data.x_test, value)})
    (res,) = train_networks([TrainConfig(batch_size=64, epochs=2, seed=1)], flat, progress=False)
    # no input spread: every layer's features collapse, and D is +inf (no separation) at each
    assert res.diverged and res.arrays()["diverged"]
    assert np.isinf(res.load_train["trace"][0]) and res.load_train["trace"][0] > 0


def test_seeded_runs_are_reproducible_and_chunking_does_not_matter(data):
    a = train_networks(SETTINGS, data, progress=False)
    b = train_networks(SETTINGS, data, progress=False)
    chunked = train_networks(SETTINGS, data, progress=False, rows_per_chunk=64)  # one network per stack
    for x, y, z in zip(a, b, chunked):  # bitwise, on the CPU
        assert np.array_equal(x.losses, y.losses) and x.test_acc == y.test_acc
        assert np.array_equal(x.load_test["trace"], y.load_test["trace"])
        assert np.array_equal(x.losses, z.losses) and np.array_equal(x.load_train["pinv"], z.load_train["pinv"])


def test_early_stop_freezes_a_network(data, monkeypatch):
    monkeypatch.setattr(train, "STOP_LOSS", 100.0)  # every epoch loss is below: stop after epoch 1
    cfgs = [TrainConfig(alpha=0.1, batch_size=64, epochs=3, seed=1),
            TrainConfig(alpha=0.1, batch_size=64, epochs=3, seed=2, early_stop=False)]
    stopped, running = train_networks(cfgs, data, progress=False, keep_models=True, dtype=torch.float64)
    assert stopped.epochs_run == 1 and running.epochs_run == 3
    # the frozen network is exactly the one trained for a single epoch
    once = train_networks([TrainConfig(alpha=0.1, batch_size=64, epochs=1, seed=1)], data, progress=False,
                          keep_models=True, dtype=torch.float64)[0]
    assert _state_error(stopped.model, once.model) < 1e-10
    ref = train_reference(cfgs[0], data, keep_models=True)
    assert ref.epochs_run == 1


@pytest.mark.parametrize("kwargs, word", [
    (dict(alpha=-0.1), "alpha"), (dict(alpha=1.5), "alpha"), (dict(lr=-1e-3), "lr"), (dict(lr=0.0), "lr"),
    (dict(dropout=-0.1), "dropout"), (dict(dropout=1.0), "dropout"), (dict(noise=1.2), "noise"),
    (dict(noise=-0.5), "noise"), (dict(batch_size=1), "batch_size"), (dict(epochs=0), "epochs"),
    (dict(seed=-1), "seed"), (dict(alpha=float("nan")), "alpha"), (dict(batch_size=3.0), "batch_size"),
    (dict(norm="layer"), "norm"), (dict(optimizer="rmsprop"), "optimizer"), (dict(alpha=True), "alpha"),
])
def test_bad_configs_fail_fast(kwargs, word):
    with pytest.raises(ValueError, match=word):
        TrainConfig(**kwargs)


def test_bad_data_is_refused_before_training(data, monkeypatch):
    calls = []
    monkeypatch.setattr(train, "_train_stack", lambda *a, **k: calls.append(1))
    nan = SimpleNamespace(**{**vars(data), "x_train": data.x_train.clone().fill_(float("nan"))})
    with pytest.raises(ValueError, match="x_train contains NaN"):
        train_networks([TrainConfig(batch_size=64)], nan, progress=False)
    wide = SimpleNamespace(**{**vars(data), "x_test": data.x_test[:, :20]})
    with pytest.raises(ValueError, match="x_test has 20 features"):
        train_networks([TrainConfig(batch_size=64)], wide, progress=False)
    labels = SimpleNamespace(**{**vars(data), "y_train": data.y_train + 5})
    with pytest.raises(ValueError, match="y_train must lie in 0..9"):
        train_networks([TrainConfig(batch_size=64)], labels, progress=False)
    assert calls == []


def test_bad_runs_fail_fast(data):
    with pytest.raises(ValueError, match="batch_size must be <= the training-set size 256"):
        train_networks([TrainConfig(batch_size=512)], data, progress=False)
    with pytest.raises(ValueError, match="last batch of 1"):
        train_networks([TrainConfig(batch_size=85)], data, progress=False)  # 256 = 3·85 + 1
    with pytest.raises(ValueError, match="device"):
        train_networks([TrainConfig(batch_size=64)], data, device="tpu", progress=False)
    with pytest.raises(ValueError, match="record_every"):
        train_networks([TrainConfig(batch_size=64)], data, record_every=0, progress=False)
    with pytest.raises(ValueError, match="at least one"):
        train_networks([], data, progress=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_cuda_requested_without_cuda(data):
    with pytest.raises(RuntimeError, match="cuda"):
        train_networks([TrainConfig(batch_size=64)], data, device="cuda", progress=False)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu_without_randomness(data):
    # full batch, no dropout or noise: the data order does not matter, so CPU and CUDA agree
    cfgs = [TrainConfig(alpha=a, batch_size=256, epochs=5, seed=1) for a in (0.0, 0.5)]
    cpu = train_networks(cfgs, data, "cpu", progress=False, dtype=torch.float64)
    gpu = train_networks(cfgs, data, "cuda", progress=False, dtype=torch.float64)
    for a, b in zip(cpu, gpu):
        np.testing.assert_allclose(a.losses, b.losses, rtol=1e-6)
        np.testing.assert_allclose(a.load_train["trace"], b.load_train["trace"], atol=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_engine_reproduces_plain_torch(data):
    results = train_networks(SETTINGS, data, "cuda", dtype=torch.float64, keep_models=True, progress=False)
    for cfg, res in zip(SETTINGS, results):
        ref = train_reference(cfg, data, "cuda", dtype=torch.float64, keep_models=True)
        assert _state_error(res.model, ref.model) < 1e-7
        np.testing.assert_allclose(res.losses, ref.losses, atol=1e-9)
