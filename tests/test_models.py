"""Every registered net, tested the day it is registered (parametrised over the registry)."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import cifarnets
from cifarnets.models import BUILDERS
from cifarnets.nets import CifarResNet, ZeroPadShortcut

ALL = cifarnets.list_models()
# One net per kind of block and shortcut runs by default; the deeper copies of the same
# blocks are marked slow where a test costs seconds per net (pytest -m slow runs them).
KINDS = ["resnet20", "plain20", "resnet83", "plain83"]
ALL_KINDS_FIRST = [n if n in KINDS else pytest.param(n, marks=pytest.mark.slow) for n in ALL]
NOT_1202 = [n if n != "resnet1202" else pytest.param(n, marks=pytest.mark.slow) for n in ALL]
GOLDEN = Path(__file__).parent / "golden" / "outputs.safetensors"
REGEN_VAR = "CIFARNETS_REGEN_GOLDEN"

# Exact sizes of the nets as He et al. 2015 define them (their Table 6 rounds them: 0.27M,
# 0.46M, 0.66M, 0.85M, 1.7M, 19.4M) and of bearpaw/pytorch-classification's (report nets).
EXPECTED_PARAMS = {
    "resnet20": 269_722,
    "resnet32": 464_154,
    "resnet44": 658_586,
    "resnet56": 853_018,
    "resnet110": 1_727_962,
    "resnet1202": 19_421_274,
    "plain20": 269_722,
    "plain32": 464_154,
    "plain44": 658_586,
    "plain56": 853_018,
    "plain110": 1_727_962,
    "resnet83": 869_530,
    "resnet164": 1_704_154,
    "plain83": 826_650,
    "plain164": 1_661_274,
}


def build(name: str, **kwargs) -> nn.Module:
    torch.manual_seed(0)
    return cifarnets.get_model(name, **kwargs)


def batch(n: int = 2, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Unit-variance inputs that every CPU draws bit for bit (torch.rand in float64 is
    integer arithmetic; torch.randn's vectorised sampler differs between CPUs)."""
    u = torch.rand(n, 3, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    return ((u * 2 - 1) * 3**0.5).to(dtype)


def calibrated(model: nn.Module) -> nn.Module:
    """Eval mode with the BN statistics of one batch (momentum 1), so that even a freshly
    initialised 1202-layer net gives well-scaled outputs."""
    momenta = {m: m.momentum for m in model.modules() if isinstance(m, nn.BatchNorm2d)}
    for m in momenta:
        m.momentum = 1.0
    dtype = next(model.parameters()).dtype
    with torch.no_grad():
        model.train()(batch(8, dtype))
    for m, momentum in momenta.items():
        m.momentum = momentum
    return model.eval()


def num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_registry_is_complete():
    # Every net of the paper and the lab report is registered (a net added later is
    # covered by the registry-parametrised tests without an entry here).
    assert set(EXPECTED_PARAMS) <= set(ALL)


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_exact_parameter_count(name):
    model = build(name)
    assert num_params(model) == EXPECTED_PARAMS[name]
    assert cifarnets.model_info(name).num_params == EXPECTED_PARAMS[name]


@pytest.mark.parametrize("name", NOT_1202)
def test_registry_facts_match_the_net(name):
    info = cifarnets.model_info(name)
    with torch.device("meta"):
        model = cifarnets.get_model(name).eval()
        with FlopCounterMode(display=False) as counter:
            model(torch.empty(1, 3, 32, 32))
    assert counter.get_total_flops() // 2 == info.macs
    assert num_params(model) == info.num_params
    assert model.depth == info.depth
    assert model.block == info.block
    assert model.shortcut == info.shortcut
    assert model.fc.in_features == info.num_features
    # The builder is public under its registry key, and named like it.
    assert getattr(cifarnets, name) is BUILDERS[name]
    assert BUILDERS[name].__name__ == name


def test_known_macs():
    # By hand, ResNet-20: the stem 0.44M, then per stage 3n 3x3 convs of 2.36M each (the
    # stride-2 first conv of stages 2 and 3: 1.18M), and fc 640: 40,551,040.
    assert round(cifarnets.model_info("resnet20").macs / 1e6, 2) == 40.55
    assert round(cifarnets.model_info("resnet56").macs / 1e6, 2) == 125.49
    assert round(cifarnets.model_info("resnet110").macs / 1e6, 2) == 252.89


@pytest.mark.parametrize("name", ALL)
def test_forward_backward(name):
    model = build(name).train()
    out = model(batch())
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()
    nn.functional.cross_entropy(out, torch.tensor([3, 7])).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{pname} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{pname} has a non-finite gradient"
        assert p.grad.abs().sum() > 0, f"{pname} has an all-zero gradient"


@pytest.mark.parametrize("name", ["resnet20", "plain20", "resnet83"])
def test_num_classes(name):
    model = build(name, num_classes=100)
    assert model(batch()).shape == (2, 100)
    assert num_params(model) == EXPECTED_PARAMS[name] + 90 * (model.fc.in_features + 1)


def test_train_and_eval_behaviour():
    model = build("resnet20")
    x = batch(8)
    before = model.bn1.running_mean.clone()
    model.train()(x)
    assert not torch.equal(model.bn1.running_mean, before), "train mode updates BN statistics"
    model.eval()
    stats = model.bn1.running_mean.clone()
    with torch.no_grad():
        whole = model(x)
        alone = model(x[:1])
    assert torch.equal(model.bn1.running_mean, stats), "eval mode leaves BN statistics alone"
    # Eval mode: an image's output does not depend on the rest of the batch.
    torch.testing.assert_close(whole[:1], alone, rtol=1e-4, atol=1e-5)
    model.train()
    with torch.no_grad():
        assert not torch.allclose(model(x)[:1], model(x[:1]), atol=1e-3), (
            "train mode normalises with the batch's statistics"
        )


def test_option_a_shortcut_is_parameter_free_and_correct():
    shortcut = ZeroPadShortcut(16, 32, stride=2)
    x = torch.randn(2, 16, 8, 8)
    y = shortcut(x)
    assert y.shape == (2, 32, 4, 4)
    torch.testing.assert_close(y[:, :16], x[:, :, ::2, ::2])
    assert torch.count_nonzero(y[:, 16:]) == 0
    assert not list(shortcut.parameters())


def test_option_b_adds_projections():
    model = build("resnet20", shortcut="B")
    assert num_params(model) == EXPECTED_PARAMS["resnet20"] + 2_752  # 1x1 16->32, 32->64 + BN
    assert isinstance(model.layer2[0].shortcut, nn.Sequential)
    assert model(batch()).shape == (2, 10)


def test_plain_nets_have_no_shortcuts():
    for name in cifarnets.list_models("plain*"):
        model = cifarnets.get_model(name)
        assert all(
            getattr(b, "shortcut", None) is None
            for stage in (model.layer1, model.layer2, model.layer3)
            for b in stage
        )


def test_kaiming_normal_init():
    model = build("resnet56")
    conv = model.layer2[3].conv1  # fan_in = 32 * 9
    expected_std = (2 / (32 * 9)) ** 0.5
    assert abs(conv.weight.std().item() - expected_std) / expected_std < 0.05
    assert torch.all(model.bn1.weight == 1) and torch.all(model.bn1.bias == 0)


@pytest.mark.parametrize("name", ALL_KINDS_FIRST)
def test_pickle_round_trip(name):
    model = calibrated(build(name))
    clone = pickle.loads(pickle.dumps(model))
    x = batch()
    with torch.no_grad():
        torch.testing.assert_close(clone(x), model(x), rtol=0, atol=0)
    buffer = io.BytesIO()
    torch.save(model, buffer)  # whole-module save pickles too (no lambdas inside)
    buffer.seek(0)
    assert isinstance(torch.load(buffer, weights_only=False), CifarResNet)


@pytest.mark.parametrize("name", ALL_KINDS_FIRST)
def test_torch_export_round_trip(name):
    model = calibrated(build(name))
    x = batch()
    program = torch.export.export(model, (x,))
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), model(x), rtol=1e-4, atol=1e-4)


def test_onnx_export(tmp_path):
    onnx = pytest.importorskip("onnx", reason="ONNX export needs the onnx package (test extra)")
    model = build("resnet20").eval()
    path = tmp_path / "resnet20.onnx"
    torch.onnx.export(model, (batch(),), str(path), dynamo=True)
    onnx.checker.check_model(str(path))


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_classes must be an int >= 0"):
        cifarnets.resnet20(num_classes=-1)
    with pytest.raises(ValueError, match="shortcut must be 'A'"):
        cifarnets.resnet20(shortcut="C")
    with pytest.raises(TypeError, match="unexpected keyword argument 'depth'"):
        cifarnets.resnet20(depth=32)
    with pytest.raises(TypeError):
        cifarnets.resnet20(True)  # pretrained is keyword-only
    with pytest.raises(ValueError, match="block must be"):
        CifarResNet("wide", 3, shortcut="A")


# -- golden outputs ------------------------------------------------------------------------
# Two kinds, each stable across CPUs. A deep net at random init amplifies the last bits of
# whichever kernels run (plain164's logits move by 0.3 between CPUs in float32, and by 0.2
# in float64 when only the init's vectorised normal sampler differs, by 6e-7). So:
# - the init golden holds the first values of every freshly initialised tensor: the
#   sampler's last-bit differences are far inside its tolerance, while a change of init
#   (scheme, scale, order of the draws) moves them by O(1);
# - the forward golden runs in float64 on parameters drawn from torch.rand in float64,
#   which is exact integer arithmetic on every CPU: float64 rounding amplified by the
#   deepest net stays near 1e-10, while a change of architecture moves the logits by O(1).

INIT_VALUES = 8  # per tensor


def _kernel_independent_parameters(model: nn.Module) -> nn.Module:
    """float64 parameters at He scale that every CPU computes bit for bit."""
    g = torch.Generator().manual_seed(2)
    model.double()
    with torch.no_grad():
        for name, p in model.named_parameters():
            u = torch.rand(p.shape, dtype=torch.float64, generator=g) * 2 - 1  # var 1/3
            if p.dim() > 1:  # conv or linear weight
                p.copy_(u * (6.0 / p[0].numel()) ** 0.5)  # std sqrt(2 / fan_in)
            elif name.endswith("weight"):  # BN scale
                p.copy_(1 + 0.1 * u)
            else:
                p.copy_(0.1 * u)
    return model


def _logit_tolerance(name: str) -> float:
    """Measured between ATen's default and AVX-512 kernels (the most different pair a
    CPU can run): every net agrees to < 1e-9 in float64 except the deepest plain net,
    whose chaotic forward pass (no shortcuts) still grows rounding to 3e-4."""
    info = cifarnets.model_info(name)
    return 1e-2 if info.shortcut is None and info.depth > 110 else 1e-7


def _outputs(name: str) -> dict[str, torch.Tensor]:
    # The first values of every floating tensor, in state_dict order, as one vector.
    init = torch.cat(
        [
            v.flatten()[:INIT_VALUES]
            for v in build(name).state_dict().values()
            if v.is_floating_point()
        ]
    )
    model = _kernel_independent_parameters(build(name))
    x = batch(dtype=torch.float64)
    with torch.no_grad():
        train_out = model.train()(x)
        eval_out = calibrated(model)(x)
    return {
        f"{name}/init": init,
        f"{name}/train": train_out.contiguous(),
        f"{name}/eval": eval_out.contiguous(),
    }


def test_golden_file_covers_the_registry():
    if os.environ.get(REGEN_VAR) == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        outputs = {}
        for name in ALL:
            outputs.update(_outputs(name))
        save_file(outputs, str(GOLDEN))
    assert GOLDEN.is_file(), (
        f"{GOLDEN} is missing: regenerate with {REGEN_VAR}=1 pytest tests/test_models.py -k golden"
    )
    keys = set(load_file(str(GOLDEN)))
    missing = {f"{n}/{mode}" for n in ALL for mode in ("init", "train", "eval")} - keys
    assert not missing, (
        f"no golden outputs for {sorted(missing)}: regenerate with "
        f"{REGEN_VAR}=1 pytest tests/test_models.py -k golden"
    )


@pytest.mark.parametrize("name", ALL)
def test_golden_outputs(name):
    """Fixed seed -> the stored init values; fixed parameters and input -> the stored
    logits. Catches any change to the init, the architecture or the forward pass, on any
    CPU. If the change is intended, regenerate with CIFARNETS_REGEN_GOLDEN=1 pytest
    tests/test_models.py -k golden, and say why in the commit."""
    if not GOLDEN.is_file():
        pytest.fail(
            f"{GOLDEN} is missing: regenerate with {REGEN_VAR}=1 pytest "
            f"tests/test_models.py -k golden"
        )
    stored = load_file(str(GOLDEN))
    for key, value in _outputs(name).items():
        assert key in stored, f"no golden output {key}: regenerate with {REGEN_VAR}=1"
        # The init: CPUs' normal samplers differ by < 1e-6; any change of init by far more.
        # The logits (float64): CPUs agree to ~1e-10; any change of the net moves them O(1).
        tol = 1e-5 if key.endswith("/init") else _logit_tolerance(name)
        torch.testing.assert_close(
            value,
            stored[key],
            rtol=tol,
            atol=tol,
            msg=lambda m, k=key: f"{k}: {m}\nIf intended, regenerate with {REGEN_VAR}=1",
        )
