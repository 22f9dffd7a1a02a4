"""The shared argument checks (springblock.validate): what each helper accepts, what it returns,
and that every refusal is a ValueError naming the parameter and the allowed range."""
import math

import numpy as np
import pytest

from springblock import validate as va


# ---------------------------------------------------------------- real
@pytest.mark.parametrize("value", [3, 2.5, np.float32(1e-3), np.float64(-7.25), np.int64(4), np.int8(-2)])
def test_real_accepts_any_real_and_returns_a_plain_float(value):
    out = va.real("x", value)
    assert type(out) is float and out == float(value)


@pytest.mark.parametrize("value", [True, False, np.bool_(True), "1.0", b"1", None, [1.0], np.array([1.0]), 1 + 0j])
def test_real_refuses_non_numbers_and_bools(value):
    with pytest.raises(ValueError, match=r"^lr must be a number in \[0, 1\], got "):
        va.real("lr", value, 0, 1)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, np.float32("nan")])
def test_real_refuses_non_finite(value):
    with pytest.raises(ValueError, match="^dt must be finite"):
        va.real("dt", value, 0)


def test_real_closed_and_open_ends():
    assert va.real("p", 0, 0, 1) == 0.0 and va.real("p", 1, 0, 1) == 1.0  # closed: both ends allowed
    with pytest.raises(ValueError, match=r"^p must lie in \(0, 1\], got 0$"):
        va.real("p", 0, 0, 1, lo_open=True)
    with pytest.raises(ValueError, match=r"^p must lie in \[0, 1\), got 1$"):
        va.real("p", 1, 0, 1, hi_open=True)
    with pytest.raises(ValueError, match=r"^p must lie in \[0, 1\], got 1\.5$"):
        va.real("p", 1.5, 0, 1)
    with pytest.raises(ValueError, match=r"^p must lie in \[0, 1\], got -0\.1$"):
        va.real("p", -0.1, 0, 1)
    assert va.real("p", np.nextafter(0.0, 1.0), 0, 1, lo_open=True) > 0  # just inside the open end
    # one-sided ranges
    assert va.real("q", -1e300, None, 0) == -1e300
    with pytest.raises(ValueError, match=r"^q must lie in \(-inf, 0\]"):
        va.real("q", 1e-300, None, 0)
    with pytest.raises(ValueError, match=r"^q must lie in \[2\.5, inf"):
        va.real("q", 2, 2.5)


def test_real_range_check_uses_the_converted_value():
    # np.float32(0.1) is 0.10000000149..., so it lies just above 0.1 as a float
    with pytest.raises(ValueError, match="must lie in"):
        va.real("x", np.float32(0.1), None, 0.1)
    assert va.real("x", np.float32(0.1), 0.1) == float(np.float32(0.1))


# ---------------------------------------------------------------- integer, optional_integer
@pytest.mark.parametrize("value", [0, 7, np.int64(7), np.int32(-3), np.uint8(200)])
def test_integer_accepts_integrals_and_returns_a_plain_int(value):
    out = va.integer("n", value)
    assert type(out) is int and out == int(value)


@pytest.mark.parametrize("value", [True, np.bool_(False), 2.0, np.float64(3.0), "3", None, [3]])
def test_integer_refuses_non_integers_and_bools(value):
    with pytest.raises(ValueError, match=r"^steps must be an integer in \[1, 10\], got "):
        va.integer("steps", value, 1, 10)


def test_integer_range():
    assert va.integer("n", 1, 1, 3) == 1 and va.integer("n", 3, 1, 3) == 3
    with pytest.raises(ValueError, match=r"^n must be an integer in \[1, 3\], got 0$"):
        va.integer("n", 0, 1, 3)
    with pytest.raises(ValueError, match=r"^n must be an integer in \[1, 3\], got 4$"):
        va.integer("n", 4, 1, 3)
    with pytest.raises(ValueError, match=r"^n must be an integer in \(-inf, -1\], got 0$"):
        va.integer("n", 0, None, -1)
    assert va.integer("n", 10**30, 0) == 10**30  # Python ints are unbounded


def test_optional_integer():
    assert va.optional_integer("every", None, 1) is None
    out = va.optional_integer("every", np.int16(5), 1)
    assert type(out) is int and out == 5
    with pytest.raises(ValueError, match=r"^every must be an integer in \[1, "):
        va.optional_integer("every", 0, 1)
    with pytest.raises(ValueError, match="^every must be an integer"):
        va.optional_integer("every", 2.0, 1)


# ---------------------------------------------------------------- boolean
def test_boolean():
    assert va.boolean("flag", True) is True and va.boolean("flag", False) is False
    out = va.boolean("flag", np.bool_(True))
    assert type(out) is bool and out is True
    for bad in (0, 1, "True", None, 1.0):
        with pytest.raises(ValueError, match=r"^flag must be True or False, got "):
            va.boolean("flag", bad)


# ---------------------------------------------------------------- choice
def test_choice():
    opts = ("trace", "pinv", "inverse")
    assert va.choice("kind", "pinv", opts) == "pinv"
    assert va.choice("kind", np.str_("pinv"), opts) == "pinv"
    assert va.choice("n", 2, [1, 2, 3]) == 2  # any sequence of options
    for bad in ("logdet", "", None, ["trace"], {"trace": 1}, {"trace"}):
        with pytest.raises(ValueError, match=r"^kind must be one of \('trace', 'pinv', 'inverse'\), got "):
            va.choice("kind", bad, opts)


# ---------------------------------------------------------------- array
def test_array_converts_to_float64():
    a = va.array("k", [1, 2, 3])
    assert a.dtype == np.float64 and a.tolist() == [1.0, 2.0, 3.0]
    s = va.array("k", np.float32(0.5))
    assert s.shape == () and s.dtype == np.float64 and float(s) == 0.5
    np.testing.assert_array_equal(va.array("k", np.array([[1, 2]], np.int32)), [[1.0, 2.0]])


def test_array_bounds():
    assert va.array("mu", [0.0, 1.0], 0).tolist() == [0.0, 1.0]  # closed: 0 allowed
    with pytest.raises(ValueError, match=r"^mu must be >= 0 everywhere, got "):
        va.array("mu", [0.1, -0.1], 0)
    with pytest.raises(ValueError, match=r"^k must be > 0 everywhere, got "):
        va.array("k", [1.0, 0.0], 0, lo_open=True)
    assert va.array("y", [-5.0, 5.0]).tolist() == [-5.0, 5.0]  # no bound by default


@pytest.mark.parametrize("value", ["1.0", b"1", True, np.bool_(False), "a lot", [1.0, "a"], {"a": 1}])
def test_array_refuses_non_numbers(value):
    with pytest.raises(ValueError, match="^sigma must be a number or an array of numbers"):
        va.array("sigma", value, 0)


@pytest.mark.parametrize("value", [math.nan, [1.0, math.inf], np.array([-math.inf])])
def test_array_refuses_non_finite(value):
    with pytest.raises(ValueError, match="^gamma must be finite"):
        va.array("gamma", value, 0)


# ---------------------------------------------------------------- reals
def test_reals():
    out = va.reals("alphas", [0, np.float32(0.5), np.int64(1)], 0, 1)
    assert out == (0.0, 0.5, 1.0) and all(type(v) is float for v in out)
    assert va.reals("alphas", np.array([0.25, 0.75])) == (0.25, 0.75)
    assert va.reals("alphas", (1.0,)) == (1.0,)
    with pytest.raises(ValueError, match=r"^alphas\[1\] must lie in \[0, 1\], got 2"):
        va.reals("alphas", [0.5, 2], 0, 1)
    with pytest.raises(ValueError, match=r"^alphas\[0\] must be a number"):
        va.reals("alphas", [True], 0, 1)
    with pytest.raises(ValueError, match=r"^alphas\[0\] must be finite"):
        va.reals("alphas", [math.nan])
    with pytest.raises(ValueError, match=r"^alphas must hold at least 1 value\(s\)"):
        va.reals("alphas", [])
    with pytest.raises(ValueError, match=r"^alphas must hold at least 2 value\(s\)"):
        va.reals("alphas", [0.1], min_len=2)
    for bad in (0.5, np.float64(0.5), "0.5", b"05", None, {0.5}):
        with pytest.raises(ValueError, match="^alphas must be a sequence of numbers"):
            va.reals("alphas", bad)


# ---------------------------------------------------------------- seeds
def test_seeds_from_a_count():
    assert va.seeds(10) == tuple(range(1, 11))  # the paper's seeds 1..10
    assert va.seeds(3, base=100) == (101, 102, 103)
    assert va.seeds(np.int64(2)) == (1, 2)
    assert all(type(s) is int for s in va.seeds(np.int64(2), base=np.int32(5)))
    for bad in (0, -3):
        with pytest.raises(ValueError, match=r"^seeds must be an integer in \[1, "):
            va.seeds(bad)


def test_seeds_from_a_sequence():
    assert va.seeds([0, 5, 3]) == (0, 5, 3)  # as given, order kept, 0 allowed
    assert va.seeds((7,), base=1000) == (7,)  # base only shifts a count
    assert va.seeds(np.array([4, 2])) == (4, 2)
    assert all(type(s) is int for s in va.seeds(np.array([4, 2])))
    with pytest.raises(ValueError, match="^seeds must not repeat"):
        va.seeds([1, 2, 1])
    with pytest.raises(ValueError, match=r"^seeds\[1\] must be an integer in \[0, "):
        va.seeds([1, -2])
    with pytest.raises(ValueError, match=r"^seeds\[0\] must be an integer"):
        va.seeds([1.0, 2])
    with pytest.raises(ValueError, match=r"^seeds\[1\] must be an integer"):
        va.seeds([1, True])


@pytest.mark.parametrize("bad", ["12", "1", b"12", "", [], (), None, 2.0, True, np.bool_(True), {1, 2}])
def test_seeds_refuses_strings_and_other_non_seeds(bad):
    # a string is not a sequence of seeds: "12" must not become (1, 2)
    with pytest.raises(ValueError, match="^seeds"):
        va.seeds(bad)


def test_seeds_base_is_validated():
    with pytest.raises(ValueError, match=r"^seed must be an integer in \[0, "):
        va.seeds(3, base=-1)
    with pytest.raises(ValueError, match="^seed must be an integer"):
        va.seeds(3, base=1.0)
