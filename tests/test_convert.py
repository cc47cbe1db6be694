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
from cifarnets.convert import ConversionError, convert_akamaster, load_akamaster_checkpoint


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
    state = {f"module.{k}": v for k, v in peer.state_dict().items()
             if not k.endswith("num_batches_tracked")}
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
    own = [w for w in cifarnets.get_model_weights(arch)
           if not (w.ported or w.partial) and w.dataset == "cifar10"]
    expected = {w.name for w in own} if own else {weights.name}
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
    expected = (images[:4].float() / 255 - torch.tensor(own.mean).view(1, 3, 1, 1)) / \
        torch.tensor(own.std).view(1, 3, 1, 1)
    torch.testing.assert_close(batch, expected)
