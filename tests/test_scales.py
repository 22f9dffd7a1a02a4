import pytest
import torch

from springblock import scales


def test_check_accepts_the_contract():
    assert scales.check("cpu", "quick", 3) == scales.RunParams("cpu", "quick", 3)


@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(device="tpu"), "device"),
        (dict(scale="huge"), "scale"),
        (dict(seed=-1), "seed"),
        (dict(seed=1.5), "seed"),
        (dict(seed=True), "seed"),
    ],
)
def test_check_names_the_bad_parameter(kwargs, word):
    with pytest.raises(ValueError, match=word):
        scales.check(**kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_cuda_requested_without_cuda_fails_fast():
    with pytest.raises(RuntimeError, match="cuda"):
        scales.check("cuda", "quick", 0)
    with pytest.raises(RuntimeError, match="cuda"):
        scales.resolve_device("cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_resolves_where_present():
    assert scales.resolve_device("cuda").type == "cuda"


def test_resolve_device_rejects_unknown():
    with pytest.raises(ValueError, match="device"):
        scales.resolve_device("banana")
    assert scales.resolve_device("cpu") == torch.device("cpu")


def test_every_experiment_defines_every_scale():
    for name, entry in scales.EXPERIMENTS.items():
        assert set(entry) == set(scales.SCALES), name
        for scale in scales.SCALES:
            assert dict(scales.settings(name, scale)) == entry[scale]


def test_settings_errors_and_read_only():
    with pytest.raises(ValueError, match="experiment"):
        scales.settings("nope", "quick")
    with pytest.raises(ValueError, match="scale"):
        scales.settings("separation", "nope")
    s = scales.settings("separation", "quick")
    with pytest.raises(TypeError):
        s["epochs"] = 1
