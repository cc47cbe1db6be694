"""akamaster/pytorch_resnet_cifar10 checkpoints -> cifarnets, proven exact without the
peer's files: an independent few-line copy of the peer's net (its option-A shortcut pads
the new channels on both sides), random weights, converted, same outputs."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

import cifarnets
from cifarnets.cli import main as cli_main
from cifarnets.convert import (
    ConversionError,
    convert_akamaster,
    infer_akamaster_arch,
    load_akamaster_checkpoint,
)


class PeerBlock(nn.Module):
    """akamaster's resnet.py BasicBlock, option A (its LambdaLayer inlined)."""

    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.pad = stride != 1 or in_planes != planes
        self.planes = planes

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.pad:
            q = self.planes // 4
            short = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, q, q))
        else:
            short = x
        return F.relu(out + short)


class PeerResNet(nn.Module):
    def __init__(self, n: int, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        in_planes, layers = 16, []
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for s in [stride] + [1] * (n - 1):
                blocks.append(PeerBlock(in_planes, planes, s))
                in_planes = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(64, num_classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        return self.linear(F.adaptive_avg_pool2d(out, 1).flatten(1))


def _random_peer(n: int, num_classes: int = 10) -> PeerResNet:
    torch.manual_seed(n)
    peer = PeerResNet(n, num_classes)
    for m in peer.modules():  # BN statistics and affine terms that matter in eval mode
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.1)
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return peer.eval()


def _peer_checkpoint(peer: PeerResNet) -> dict:
    # As the peer's trainer.py saves it: DataParallel's "module." prefix, no BN counters.
    state = {
        f"module.{k}": v
        for k, v in peer.state_dict().items()
        if not k.endswith("num_batches_tracked")
    }
    return {"state_dict": state, "best_prec1": 91.0}


@pytest.mark.parametrize("arch", ["resnet20", "resnet32", "resnet44", "resnet56", "resnet110"])
def test_converted_net_computes_the_peers_function(arch):
    n = (cifarnets.model_info(arch).depth - 2) // 6
    peer = _random_peer(n)
    model = cifarnets.get_model(arch).eval()
    model.load_state_dict(convert_akamaster(_peer_checkpoint(peer)["state_dict"], arch))
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        expected, got = peer(x), model(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    # Loading by name alone (no permutation) is a different function: the test has teeth.
    naive = cifarnets.get_model(arch).eval()
    naive.load_state_dict({k.replace("linear.", "fc."): v for k, v in peer.state_dict().items()})
    with torch.no_grad():
        assert not torch.allclose(naive(x), expected, atol=1e-3)


def test_cifar100_head_converts():
    peer = _random_peer(3, num_classes=100)
    model = cifarnets.get_model("resnet20", num_classes=100).eval()
    model.load_state_dict(convert_akamaster(_peer_checkpoint(peer)["state_dict"], "resnet20"))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), peer(x), rtol=1e-4, atol=1e-4)


def test_depth_mismatch_names_the_right_net():
    state = _peer_checkpoint(_random_peer(5))["state_dict"]
    with pytest.raises(ConversionError, match=r"5 blocks per stage \(ResNet-32\); resnet20 has 3"):
        convert_akamaster(state, "resnet20")


def test_option_b_and_other_nets_are_refused():
    state = dict(_peer_checkpoint(_random_peer(3))["state_dict"])
    state["module.layer2.0.shortcut.0.weight"] = torch.zeros(32, 16, 1, 1)
    with pytest.raises(ConversionError, match="option B"):
        convert_akamaster(state, "resnet20")
    with pytest.raises(ConversionError, match="not one of them"):
        convert_akamaster({}, "plain20")
    with pytest.raises(ConversionError, match="linear.weight"):
        convert_akamaster({"module.fc.weight": torch.zeros(10, 64)}, "resnet20")


def test_files_that_are_not_checkpoints(tmp_path):
    text = tmp_path / "notes.th"
    text.write_text("not a checkpoint")
    with pytest.raises(ConversionError, match="weights_only=True"):
        load_akamaster_checkpoint(text)
    listing = tmp_path / "list.th"
    torch.save([1, 2, 3], listing)
    with pytest.raises(ConversionError, match="no state dict"):
        load_akamaster_checkpoint(listing)
    with pytest.raises(ConversionError, match="no such file"):
        load_akamaster_checkpoint(tmp_path / "missing.th")


def test_cli_convert_writes_a_file_eval_reads_with_its_normalisation(tmp_path, capsys):
    src, out = tmp_path / "resnet20-peer.th", tmp_path / "resnet20.safetensors"
    peer = _random_peer(3)
    torch.save(_peer_checkpoint(peer), src)
    assert cli_main(["convert", "akamaster", str(src), str(out), "--arch", "resnet20"]) == 0
    assert "wrote" in capsys.readouterr().out
    model = cifarnets.load_weights_file(cifarnets.resnet20(), out)
    assert model.pretrained_weights.mean == (0.485, 0.456, 0.406)  # the peer's (ImageNet)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), peer(x), rtol=1e-4, atol=1e-4)
    from safetensors import safe_open

    with safe_open(out, "pt") as f:
        meta = f.metadata()
    assert meta["arch"] == "resnet20" and json.loads(meta["std"]) == [0.229, 0.224, 0.225]
    assert set(load_file(out)) == set(cifarnets.resnet20().state_dict())
    # An existing file is kept unless --force; a wrong net is a clear error, exit 2.
    assert cli_main(["convert", "akamaster", str(src), str(out), "--arch", "resnet20"]) == 2
    assert "--force" in capsys.readouterr().err
    bad = tmp_path / "other.safetensors"
    assert cli_main(["convert", "akamaster", str(src), str(bad), "--arch", "resnet56"]) == 2
    assert "resnet56 has 9" in capsys.readouterr().err and not bad.exists()


# -- which net a file is: inferred from its keys and shapes, --arch only checks --------

ARCHS = {"resnet20": 3, "resnet32": 5, "resnet44": 7, "resnet56": 9, "resnet110": 18}


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_the_net_is_inferred_from_the_file(arch, tmp_path, capsys):
    peer = _random_peer(ARCHS[arch])
    src, out = tmp_path / f"{arch}-peer.th", tmp_path / f"{arch}.safetensors"
    torch.save(_peer_checkpoint(peer), src)
    assert infer_akamaster_arch(_peer_checkpoint(peer)["state_dict"]) == arch
    assert cli_main(["convert", "akamaster", str(src), str(out)]) == 0  # no --arch
    said = capsys.readouterr().out
    assert (
        f": {arch} (inferred from the file: {ARCHS[arch]} blocks per stage, 10-class head)" in said
    )
    model = cifarnets.load_weights_file(cifarnets.get_model(arch), out)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), peer(x), rtol=1e-4, atol=1e-4)


def test_the_head_size_is_inferred_too(tmp_path, capsys):
    peer = _random_peer(5, num_classes=100)
    src, out = tmp_path / "c100.th", tmp_path / "c100.safetensors"
    torch.save(_peer_checkpoint(peer), src)
    assert cli_main(["convert", "akamaster", str(src), str(out), "--arch", "resnet32"]) == 0
    assert (
        "resnet32 (inferred from the file, as --arch said: 5 blocks per stage, 100-class "
        "head)" in capsys.readouterr().out
    )
    model = cifarnets.load_weights_file(cifarnets.resnet32(num_classes=100), out)
    assert model.pretrained_weights.dataset == "cifar100"


def test_an_arch_that_disagrees_with_the_file_names_both(tmp_path, capsys):
    src, out = tmp_path / "peer.th", tmp_path / "out.safetensors"
    torch.save(_peer_checkpoint(_random_peer(5)), src)
    assert cli_main(["convert", "akamaster", str(src), str(out), "--arch", "resnet44"]) == 2
    err = capsys.readouterr().err
    assert "5 blocks per stage (ResNet-32); resnet44 has 7" in err
    assert "the file is resnet32, not resnet44" in err and not out.exists()
    # A net akamaster never trained: refused, and the file's own net is named.
    assert cli_main(["convert", "akamaster", str(src), str(out), "--arch", "resnet83"]) == 2
    err = capsys.readouterr().err
    assert "resnet83 is not one of them; the file is resnet32" in err and not out.exists()


def _renamed(model: nn.Module) -> dict:
    """A cifarnets net's state dict in akamaster's names (module. prefix, linear head)."""
    return {"module." + k.replace("fc.", "linear."): v for k, v in model.state_dict().items()}


COULD_BE = "resnet20 (3 blocks per stage), resnet32 (5 blocks per stage)"


def test_a_file_that_fits_no_net_says_what_it_found(tmp_path, capsys):
    # Four blocks per stage: a ResNet-26, which no one published.
    state = _peer_checkpoint(_random_peer(4))["state_dict"]
    with pytest.raises(ConversionError) as info:
        infer_akamaster_arch(state)
    message = str(info.value)
    assert "4 blocks per stage would be a ResNet-26" in message
    assert "4/4/4 blocks per stage in layer1, layer2, layer3" in message
    assert "a 10-class head (linear.weight (10, 64))" in message
    assert "keys, e.g. bn1.bias" in message
    assert COULD_BE in message and "resnet1202 (200 blocks per stage)" in message
    # Stages of different lengths.
    uneven = {
        k: v
        for k, v in _peer_checkpoint(_random_peer(5))["state_dict"].items()
        if not k.startswith("module.layer2.4.")
    }
    with pytest.raises(ConversionError, match="5/4/5 blocks per stage") as info:
        infer_akamaster_arch(uneven)
    assert "equally many blocks" in str(info.value)
    # A bottleneck net (cifarnets' own resnet83 under akamaster's names).
    with pytest.raises(ConversionError, match=r"also have bn3, conv3 \(a bottleneck net\)"):
        infer_akamaster_arch(_renamed(cifarnets.resnet83()))
    # Other widths than the paper's 16/32/64.
    with pytest.raises(ConversionError, match=r"\(16, 16, 32, 64, 128\), not"):
        infer_akamaster_arch(
            _peer_checkpoint(_random_peer(3))["state_dict"]
            | {"module.linear.weight": torch.zeros(10, 128)}
        )
    # Through the command line: exit 2, what it found, nothing written.
    src, out = tmp_path / "r26.th", tmp_path / "r26.safetensors"
    torch.save({"state_dict": state}, src)
    assert cli_main(["convert", "akamaster", str(src), str(out)]) == 2
    err = capsys.readouterr().err
    assert str(src) in err and "ResNet-26" in err and COULD_BE in err and not out.exists()


def test_a_file_without_a_state_dict_says_what_it_holds(tmp_path, capsys):
    src, out = tmp_path / "meta.th", tmp_path / "out.safetensors"
    torch.save({"epoch": 200, "best_prec1": 93.6}, src)
    assert cli_main(["convert", "akamaster", str(src), str(out)]) == 2
    err = capsys.readouterr().err
    assert "holds no state dict" in err and "['best_prec1', 'epoch']" in err


# -- the packaged ports: what a user loads today ------------------------------------------

PORTED = {"resnet20": 8.27, "resnet32": 7.37, "resnet44": 6.90, "resnet56": 6.61}


@pytest.mark.parametrize("arch", sorted(PORTED))
def test_ported_weights_say_where_they_come_from_and_are_default_until_own_ones(arch):
    weights = cifarnets.get_weights(f"{arch}.cifar10_akamaster")
    assert weights.test_error == PORTED[arch]  # re-measured on 10,000 images: test_published
    assert weights.metrics["test_images"] == 10_000
    assert weights.selected_on_test and weights.ported
    assert weights.mean == (0.485, 0.456, 0.406) and weights.std == (0.229, 0.224, 0.225)
    assert weights.license == "BSD-2-Clause"
    assert "Idelbayev" in weights.source["copyright"]
    assert weights.source["commit"].startswith("d5489e8")
    # The README's rule: the port is the DEFAULT until the project has complete weights of
    # its own for the net (resnet20 has them from the CPU runs; the others wait for a GPU).
    own = [
        w
        for w in cifarnets.get_model_weights(arch)
        if not (w.ported or w.partial) and w.dataset == "cifar10"
    ]
    expected = {w.value.name for w in own} if own else {weights.name}
    assert cifarnets.get_weights("DEFAULT", arch).name in expected


def test_their_normalisation_matters_and_every_user_path_applies_it(monkeypatch, capsys):
    """The sample's error with the weights' own constants against constants a user might
    guess; then `cifarnets eval` and Weights.transforms() must use the weights' own."""
    from cifarnets.data import load_test_sample
    from cifarnets.evaluate import evaluate

    images, labels, _ = load_test_sample()
    model = cifarnets.resnet56(weights="cifar10_akamaster")
    own = model.pretrained_weights
    right = evaluate(model, images, labels, mean=own.mean, std=own.std).error
    assert right < 10
    for mean, std in [((0.0,) * 3, (1.0,) * 3), ((0.5,) * 3, (0.5,) * 3)]:
        assert evaluate(model, images, labels, mean=mean, std=std).error > right + 5

    seen = {}

    def spy(model, images, labels, *, mean, std, **kw):
        seen.update(mean=tuple(mean), std=tuple(std))
        return evaluate(model, images[:10], labels[:10], mean=mean, std=std)

    monkeypatch.setattr("cifarnets.evaluate.evaluate", spy)
    assert cli_main(["eval", "resnet56", "--weights", "cifar10_akamaster", "--limit", "10"]) == 0
    assert "resnet56.cifar10_akamaster" in capsys.readouterr().out  # says which weights
    assert seen == {"mean": own.mean, "std": own.std}

    batch = own.transforms()(images[:4])
    expected = (images[:4].float() / 255 - torch.tensor(own.mean).view(1, 3, 1, 1)) / torch.tensor(
        own.std
    ).view(1, 3, 1, 1)
    torch.testing.assert_close(batch, expected)
