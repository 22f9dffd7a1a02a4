import math

import numpy as np
import pytest
import torch

from springblock import separation as sep

KINDS = sep.KINDS


def blobs(n=60, d=5, c=3, spread=1.0, seed=0, dtype=torch.float64):
    """Gaussian blobs around random class means; labels cycle 0..c-1 (every class present)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % c
    means = 3 * torch.randn(c, d, generator=g, dtype=torch.float64)
    x = means[labels] + spread * torch.randn(n, d, generator=g, dtype=torch.float64)
    return x.to(dtype), labels


def reference(x, labels, kind):
    """Plain per-class loop (float64 numpy), straight from Eqs. 2, 3, 9."""
    x, labels = np.asarray(x, dtype=np.float64), np.asarray(labels)
    n, d = x.shape
    mu = x.mean(0)
    sw, sb = np.zeros((d, d)), np.zeros((d, d))
    for c in np.unique(labels):
        xc = x[labels == c]
        mc = xc.mean(0)
        sw += (xc - mc).T @ (xc - mc)
        sb += len(xc) * np.outer(mc - mu, mc - mu)
    sw, sb = sw / n, sb / n
    if kind == "trace":
        return math.log(np.trace(sw) / np.trace(sb)), sw, sb
    if kind == "pinv":
        return math.log(np.trace(sw @ np.linalg.pinv(sb, rcond=1e-10, hermitian=True))), sw, sb
    return math.log(np.trace(sb @ np.linalg.pinv(sw, rcond=1e-10, hermitian=True))), sw, sb


def random_invertible(d, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(d, d, generator=g, dtype=torch.float64) + 3 * torch.eye(d, dtype=torch.float64)


def random_orthogonal(d, seed):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return q


# ---------------------------------------------------------------- hand-computed example
def test_hand_computed_example():
    # class 0: (0,0), (2,0), (1,0)  -> mu_0 = (1, 0), n_0 = 3
    # class 1: (1,3), (1,5)         -> mu_1 = (1, 4), n_1 = 2;  mu = (1, 1.6), N = 5
    # Sigma_w = 1/5 diag(1+1+0, 1+1) = diag(0.4, 0.4)
    # Sigma_b = 1/5 diag(0, 3*1.6^2 + 2*2.4^2) = diag(0, 3.84)
    x = torch.tensor([[0.0, 0.0], [1.0, 3.0], [2.0, 0.0], [1.0, 5.0], [1.0, 0.0]], dtype=torch.float64)
    labels = torch.tensor([0, 1, 0, 1, 0])
    sw, sb = sep.class_statistics(x, labels)
    torch.testing.assert_close(sw, torch.tensor([[0.4, 0.0], [0.0, 0.4]], dtype=torch.float64))
    torch.testing.assert_close(sb, torch.tensor([[0.0, 0.0], [0.0, 3.84]], dtype=torch.float64))
    # trace: log(0.8 / 3.84) = log(5/24); pinv: log(0.4/3.84) = log(5/48); inverse: log(3.84/0.4) = log(9.6)
    assert sep.data_separation(x, labels).item() == pytest.approx(math.log(5 / 24), abs=1e-12)
    assert sep.data_separation(x, labels, "pinv").item() == pytest.approx(math.log(5 / 48), abs=1e-12)
    assert sep.data_separation(x, labels, "inverse").item() == pytest.approx(math.log(9.6), abs=1e-12)


# ---------------------------------------------------------------- loop reference
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed, n, d, c", [(0, 60, 5, 3), (1, 50, 8, 4), (2, 40, 3, 5)])
def test_matches_loop_reference(kind, seed, n, d, c):
    x, labels = blobs(n, d, c, seed=seed)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))  # unsorted labels
    x, labels = x[perm], labels[perm]
    expected, sw_ref, sb_ref = reference(x, labels, kind)
    assert sep.data_separation(x, labels, kind).item() == pytest.approx(expected, rel=1e-9, abs=1e-9)
    sw, sb = sep.class_statistics(x.numpy(), labels.numpy())  # numpy in is accepted
    np.testing.assert_allclose(sw.numpy(), sw_ref, atol=1e-12)
    np.testing.assert_allclose(sb.numpy(), sb_ref, atol=1e-12)


def test_class_traces_equal_trace_of_statistics():
    x, labels = blobs(n=45, d=7, c=4, seed=3)
    sw, sb = sep.class_statistics(x, labels)
    tw, tb = sep.class_traces(x, labels)
    torch.testing.assert_close(tw, torch.diagonal(sw).sum())
    torch.testing.assert_close(tb, torch.diagonal(sb).sum())


def test_num_classes_and_total_covariance():
    x, labels = blobs(n=30, d=4, c=3, seed=4)
    sw, sb = sep.class_statistics(x, labels, num_classes=3)
    total = torch.cov(x.T, correction=0)  # Σ_w + Σ_b = biased total covariance
    torch.testing.assert_close(sw + sb, total)
    # num_classes is any integer >= 2 (NumPy integers included) and gives the same numbers
    for kind in KINDS:
        assert sep.data_separation(x, labels, kind, num_classes=np.int64(3)) == sep.data_separation(x, labels, kind)


# ---------------------------------------------------------------- invariances
@pytest.mark.parametrize("kind", ["trace", "pinv"])
def test_invariant_under_orthogonal_maps(kind):
    x, labels = blobs(n=60, d=6, c=3, seed=5)
    q = random_orthogonal(6, seed=6)
    assert sep.data_separation(x @ q.T, labels, kind).item() == pytest.approx(
        sep.data_separation(x, labels, kind).item(), abs=1e-10
    )


def test_trace_invariant_under_scaling_but_not_generic_maps():
    x, labels = blobs(n=60, d=6, c=3, seed=7)
    d0 = sep.data_separation(x, labels).item()
    assert sep.data_separation(-7.5 * x + 2.0, labels).item() == pytest.approx(d0, abs=1e-10)
    m = random_invertible(6, seed=8)
    assert abs(sep.data_separation(x @ m.T, labels).item() - d0) > 1e-2


def test_inverse_invariant_under_any_invertible_map():
    x, labels = blobs(n=60, d=6, c=3, seed=9)
    d0 = sep.data_separation(x, labels, "inverse").item()
    for seed in range(3):
        m = random_invertible(6, seed=10 + seed)
        assert torch.linalg.cond(m) < 100
        assert sep.data_separation(x @ m.T + 1.0, labels, "inverse").item() == pytest.approx(d0, abs=1e-9)


def test_linear_network_inverse_load_curve_is_flat():
    x, labels = blobs(n=80, d=6, c=4, seed=11)
    layers = [x]
    for seed in range(4):
        layers.append(layers[-1] @ random_invertible(6, seed=20 + seed).T + 0.3)
    inverse = sep.load_curve(layers, labels, kind="inverse")
    torch.testing.assert_close(inverse, inverse[:1].expand(5), atol=1e-8, rtol=0)
    # the trace metric does see the (non-orthogonal) layers, so this test is not vacuous
    assert sep.load_curve(layers, labels).std() > 1e-2


def test_collapse_sends_D_to_minus_infinity():
    g = torch.Generator().manual_seed(12)
    labels = torch.arange(40) % 4
    means = 2 * torch.randn(4, 5, generator=g, dtype=torch.float64)
    noise = torch.randn(40, 5, generator=g, dtype=torch.float64)
    spreads = [1.0, 1e-1, 1e-2, 1e-4, 1e-8]
    ds = [sep.data_separation(means[labels] + s * noise, labels).item() for s in spreads]
    assert all(a > b for a, b in zip(ds, ds[1:]))
    assert ds[-1] < -30
    # exact collapse: Tr Σ_w is 0 up to round-off in the class means
    assert sep.data_separation(means[labels], labels).item() < -60


# ---------------------------------------------------------------- batching, dtypes
@pytest.mark.parametrize("kind", KINDS)
def test_batched_equals_looped(kind):
    g = torch.Generator().manual_seed(13)
    labels = torch.arange(24) % 3
    x = torch.randn(3, 4, 24, 5, generator=g, dtype=torch.float64) + 2 * labels[:, None]
    batched = sep.data_separation(x, labels, kind)
    assert batched.shape == (3, 4)
    looped = [[sep.data_separation(x[i, j], labels, kind).item() for j in range(4)] for i in range(3)]
    looped = torch.tensor(looped, dtype=torch.float64)
    torch.testing.assert_close(batched, looped, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", KINDS)
def test_load_curve_list_equals_stacked(kind):
    g = torch.Generator().manual_seed(14)
    labels = torch.arange(30) % 3
    stacked = torch.randn(2, 5, 30, 4, generator=g, dtype=torch.float64) + labels[:, None]
    from_list = sep.load_curve(list(stacked.unbind(1)), labels, kind)
    from_tensor = sep.load_curve(stacked, labels, kind)
    assert from_tensor.shape == (2, 5)
    torch.testing.assert_close(from_list, from_tensor)


def test_load_curve_with_different_widths():
    x, labels = blobs(n=40, d=6, c=3, seed=15)
    layers = [x, x[:, :3], torch.cat([x, x**2], 1)]
    curve = sep.load_curve(layers, labels)
    expected = torch.stack([sep.data_separation(f, labels) for f in layers])
    torch.testing.assert_close(curve, expected)


@pytest.mark.parametrize("kind", KINDS)
def test_float32_close_to_float64(kind):
    x, labels = blobs(n=200, d=10, c=4, seed=16)
    d64 = sep.data_separation(x, labels, kind)
    d32 = sep.data_separation(x.float(), labels, kind)
    assert d32.dtype == torch.float32
    assert d32.item() == pytest.approx(d64.item(), abs=1e-4)


# ---------------------------------------------------------------- several kinds at once
@pytest.mark.parametrize("stacked", [False, True])
def test_load_curves_equal_load_curve_per_kind(stacked):
    g = torch.Generator().manual_seed(30)
    labels = torch.arange(36) % 4
    layers = torch.randn(2, 5, 36, 6, generator=g, dtype=torch.float64) + 0.7 * labels[:, None]
    layers = layers if stacked else list(layers.unbind(1))  # (2, L+1, N, d) or L+1 tensors (2, N, d)
    curves = sep.load_curves(layers, labels)
    assert set(curves) == set(KINDS)
    for kind in KINDS:
        assert torch.equal(curves[kind], sep.load_curve(layers, labels, kind))
    two = sep.load_curves(layers, labels, kinds=["inverse", "trace"], num_classes=4)
    assert list(two) == ["inverse", "trace"]
    assert torch.equal(two["inverse"], curves["inverse"]) and torch.equal(two["trace"], curves["trace"])


def test_load_curves_with_different_widths():
    x, labels = blobs(n=40, d=6, c=3, seed=31)
    layers = [x, x[:, :3], torch.cat([x, x**2], 1)]
    curves = sep.load_curves(layers, labels, kinds=("pinv",))
    torch.testing.assert_close(curves["pinv"], torch.stack([sep.data_separation(f, labels, "pinv") for f in layers]))


def test_load_curves_check_finite():
    x, labels = blobs(n=24, d=4, c=3, seed=32)
    bad = torch.where(x > 1, math.nan, x)
    with pytest.raises(ValueError, match=r"layer_features\[1\] contains non-finite"):
        sep.load_curves([x, bad], labels)
    # check_finite=False skips the check (for callers that made it): the NaN layer gives NaN, the other is unchanged
    got = sep.load_curves([x, bad], labels, kinds=("trace",), check_finite=False)["trace"]
    assert got[0] == sep.data_separation(x, labels) and torch.isnan(got[1])


@pytest.mark.parametrize(
    "call, word",
    [
        (lambda: sep.load_curves([X, X], Y, kinds=("trace", "logdet")), "kind"),
        (lambda: sep.load_curves([], Y), "layer_features"),
        (lambda: sep.load_curves(X, Y), "layer_features"),  # one (N, d) tensor is not a stack of layers
        (lambda: sep.load_curves([X, X[:-1]], Y), "labels"),
        (lambda: sep.load_curves([X], Y, num_classes=1), "num_classes"),
    ],
)
def test_load_curves_bad_input(call, word):
    with pytest.raises(ValueError, match=word):
        call()


# ---------------------------------------------------------------- degenerate features
def test_coinciding_class_means_are_no_separation():
    labels = torch.arange(8) % 2
    constant = torch.full((8, 3), 2.5, dtype=torch.float64)  # Σ_w = Σ_b = 0
    symmetric = torch.tensor([[1.0, 0], [0, 1], [-1, 0], [0, -1]] * 2, dtype=torch.float64)  # both means at 0
    for x in (constant, symmetric, constant.float()):
        assert sep.class_traces(x, labels)[1] == 0
        assert sep.data_separation(x, labels, "trace").item() == math.inf
        assert sep.data_separation(x, labels, "pinv").item() == math.inf
        assert sep.data_separation(x, labels, "inverse").item() == -math.inf  # the inverse grows with separation


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("value", [0.0, 1.0, 0.1, -0.002, 2.5e7, 1e-30])
def test_constant_features_are_no_separation_whatever_the_constant(value, dtype):
    # 0.1 and -0.002 are not exact in binary: their computed means leave round-off "spread" that
    # used to be read as structure (D = -inf for 0.1, -75.9 for -0.002 in float64)
    labels = torch.arange(2560) % 10
    x = torch.full((2560, 100), value, dtype=dtype)
    for kind, none in (("trace", math.inf), ("pinv", math.inf), ("inverse", -math.inf)):
        assert sep.data_separation(x, labels, kind).item() == none


def test_round_off_spread_is_no_spread_but_small_real_spread_counts():
    labels = torch.arange(400) % 4
    x, _ = blobs(n=400, d=6, c=4, seed=5)
    tiny = 1e-9 * x + 0.1  # a real spread, 1e-8 of the magnitude: above float64 round-off
    assert math.isfinite(sep.data_separation(tiny, labels).item())
    assert sep.data_separation(tiny, labels).item() == pytest.approx(sep.data_separation(x, labels).item(), rel=1e-5)
    assert sep.data_separation(tiny.float(), labels).item() == math.inf  # in float32 it is below round-off


def test_classes_on_their_own_points_are_perfect_separation():
    labels = torch.arange(8) % 2  # four samples per class: the class means are exact
    x = torch.tensor([[0.0, 0.0], [2.0, 2.0]], dtype=torch.float64)[labels]
    for xx in (x, x.float(), 1e-3 * x + 7):
        tw, tb = sep.class_traces(xx, labels)
        assert tw == 0 and tb > 0
        assert sep.data_separation(xx, labels, "trace").item() == -math.inf
        assert sep.data_separation(xx, labels, "pinv").item() == -math.inf
        assert sep.data_separation(xx, labels, "inverse").item() == math.inf


def test_degenerate_entries_of_a_batch_do_not_affect_the_others():
    x, labels = blobs(n=12, d=3, c=3, seed=33)
    batch = torch.stack([x, torch.ones_like(x), torch.tensor([[0.0, 1, 2], [3, 4, 5], [6, 7, 8]],
                                                           dtype=torch.float64)[labels]])
    for kind, (none, perfect) in {"trace": (math.inf, -math.inf), "pinv": (math.inf, -math.inf),
                                  "inverse": (-math.inf, math.inf)}.items():
        got = sep.data_separation(batch, labels, kind)
        # to rounding: how a batch is reduced depends on its size and on the CPU's BLAS code path
        torch.testing.assert_close(got[0], sep.data_separation(x, labels, kind), rtol=1e-12, atol=0)
        assert got[1].item() == none and got[2].item() == perfect
        torch.testing.assert_close(sep.load_curves(batch[:, None], labels, (kind,))[kind][:, 0], got)


# ---------------------------------------------------------------- scale safety
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype, scale", [(torch.float32, 1e30), (torch.float32, 1e-30), (torch.float64, 1e200),
                                          (torch.float64, 1e-200)])
def test_huge_and_tiny_features_give_finite_D(kind, dtype, scale):
    # unscaled, the squares of these features overflow (or underflow to 0) in their dtype
    x, labels = blobs(n=60, d=5, c=3, seed=34)
    ref = sep.data_separation(x.to(dtype), labels, kind)
    got = sep.data_separation((x * scale).to(dtype), labels, kind)
    assert got.dtype == dtype and torch.isfinite(got)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert got.item() == pytest.approx(ref.item(), rel=tol, abs=tol)
    assert got.item() == pytest.approx(sep.data_separation(x, labels, kind).item(), rel=1e-4 if tol > 1e-6 else 1e-12)
    curve = sep.load_curve([x.to(dtype), (x * scale).to(dtype)], labels, kind)
    assert curve[1].item() == pytest.approx(curve[0].item(), rel=tol, abs=tol)


def test_per_entry_scale_in_a_batch():
    x, labels = blobs(n=30, d=4, c=3, seed=35)
    batch = torch.stack([x * 1e30, x, x * 1e-30]).float()  # each batch entry is scaled on its own
    got = sep.load_curves(batch[None], labels)
    for kind in KINDS:
        torch.testing.assert_close(got[kind][0], sep.data_separation(x.float(), labels, kind).expand(3),
                                   rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- regression load
def test_regression_load_exact_linear_targets():
    x, _ = blobs(n=50, d=6, c=2, seed=19)
    w = torch.arange(1.0, 7.0, dtype=torch.float64)
    y = x @ w + 3.0
    r = sep.regression_load([x, 2 * x - 1], y)
    assert r.shape == (2,)
    assert r.max().item() < 1e-10


@pytest.mark.parametrize("k", [None, 2])
@pytest.mark.parametrize("relative", [False, True])
def test_regression_load_matches_numpy(k, relative):
    rng = np.random.default_rng(20)
    layers = [rng.normal(size=(40, d)) for d in (3, 5, 8)]
    y = rng.normal(size=40 if k is None else (40, k)) + 1.5
    expected = []
    for x in layers:
        a = np.hstack([x, np.ones((40, 1))])
        beta, *_ = np.linalg.lstsq(a, y, rcond=None)
        rmse = np.sqrt(np.mean((a @ beta - y) ** 2))
        expected.append(rmse / np.sqrt(np.mean(y**2)) if relative else rmse)
    got = sep.regression_load(layers, y, relative=relative)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)


def test_regression_load_batched_and_rank_deficient():
    g = torch.Generator().manual_seed(21)
    x = torch.randn(3, 4, 30, 5, generator=g, dtype=torch.float64)
    x[..., 4] = 0.0  # a dead unit: rank-deficient features
    y = torch.randn(30, generator=g, dtype=torch.float64)
    r = sep.regression_load(x, y)  # (3, L+1=4)
    assert r.shape == (3, 4)
    torch.testing.assert_close(r[1, 2], sep.regression_load([x[1, 2]], y)[0])
    torch.testing.assert_close(r[1, 2], sep.regression_load([x[1, 2, :, :4]], y)[0])


# ---------------------------------------------------------------- bad inputs
X, Y = blobs(n=12, d=3, c=3, seed=22)


@pytest.mark.parametrize(
    "call, word",
    [
        (lambda: sep.data_separation(X, Y[:-1]), "labels"),
        (lambda: sep.data_separation(X, Y.double()), "labels"),
        (lambda: sep.data_separation(X, torch.where(Y == 0, -1, Y)), "labels"),
        (lambda: sep.data_separation(X, Y, num_classes=4), "labels"),  # class 3 has no sample
        (lambda: sep.data_separation(X, Y, num_classes=2), "labels"),  # label 2 out of range
        (lambda: sep.data_separation(X, torch.zeros(12, dtype=torch.long)), "num_classes"),
        (lambda: sep.data_separation(X, Y, num_classes=2.0), "num_classes"),
        (lambda: sep.data_separation(X, Y, num_classes=True), "num_classes"),
        (lambda: sep.data_separation(X, Y, num_classes="3"), "num_classes"),
        (lambda: sep.data_separation(X, Y, num_classes=1), r"num_classes must be an integer in \[2, "),
        (lambda: sep.class_statistics(X, Y, num_classes=3.0), "num_classes"),
        (lambda: sep.data_separation(torch.where(X > 1, math.nan, X), Y), "features"),
        (lambda: sep.class_traces(torch.where(X > 1, math.inf, X), Y), "features"),
        (lambda: sep.data_separation(X[0], Y), "features"),
        (lambda: sep.data_separation(X, Y, kind="logdet"), "kind"),
        (lambda: sep.load_curve([X, X, torch.where(X > 1, math.nan, X)], Y), r"layer_features\[2\]"),
        (lambda: sep.load_curve([], Y), "layer_features"),
        (lambda: sep.regression_load([X], torch.ones(11)), "targets"),
        (lambda: sep.regression_load([X], torch.full((12,), math.nan)), "targets"),
        (lambda: sep.regression_load([X], torch.zeros(12), relative=True), "targets"),
    ],
)
def test_bad_input_raises_naming_parameter(call, word):
    with pytest.raises(ValueError, match=word):
        call()


def test_unknown_kind_lists_allowed():
    with pytest.raises(ValueError, match="trace.*pinv.*inverse"):
        sep.data_separation(X, Y, kind="bogus")


# ---------------------------------------------------------------- devices
@pytest.mark.parametrize(
    "device",
    [
        "cpu",
        pytest.param(
            "cuda",
            marks=[
                pytest.mark.gpu,
                pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
            ],
        ),
    ],
)
def test_device(device):
    x, labels = blobs(n=64, d=6, c=4, seed=23)
    layers = torch.stack([x, x**2, torch.tanh(x)])
    for kind in KINDS:
        got = sep.load_curve(layers.float().to(device), labels.to(device), kind)
        assert got.device.type == device and got.dtype == torch.float32
        torch.testing.assert_close(got.cpu().double(), sep.load_curve(layers, labels, kind), atol=1e-4, rtol=0)
    r = sep.regression_load(layers.to(device), x[:, 0].to(device))
    assert r.device.type == device
    torch.testing.assert_close(r.cpu(), sep.regression_load(layers, x[:, 0]))


def test_between_class_projection_spans_the_class_means():
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(3).repeat_interleave(20)
    centres = torch.tensor([[4.0, 0, 0, 0], [0, 4.0, 0, 0], [0, 0, 0, 0]])
    x = centres[labels] + 0.1 * torch.randn(60, 4, generator=gen, dtype=torch.float64)
    z = sep.between_class_projection(x, labels, k=2)
    assert z.shape == (60, 2)
    # two directions carry all between-class variance of three means: D is unchanged in 2-D
    assert torch.allclose(sep.class_traces(z, labels)[1], sep.class_traces(x, labels)[1])
    with pytest.raises(ValueError, match="k must be"):
        sep.between_class_projection(x, labels, k=0)
    with pytest.raises(ValueError, match="k must be <="):
        sep.between_class_projection(x, labels, k=5)
