"""Pretrained weights through the real huggingface_hub client (against a local FakeHub),
the package copy, timm and torch.hub; integrity checks and their error messages."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import timm
import torch
from helpers import REPO, make_weights
from huggingface_hub import constants
from safetensors.torch import save

import cifarnets
from cifarnets import (
    UnknownWeightsError,
    Weights,
    WeightsIntegrityError,
    WeightsUnavailableError,
)
from cifarnets.cli import main as cli_main
from cifarnets.data import DATASETS
from cifarnets.loading import load_state_dict, read_safetensors

# The tests' weights live in a private folder (weights_dir), and the fallback says so.
FOLDERS_COPY = "using the copy in CIFARNETS_PRETRAINED_DIR"


def reference_net(arch: str = "resnet20", seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return cifarnets.get_model(arch).eval()


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def images() -> torch.Tensor:
    return torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(3))


# -- the package copy -------------------------------------------------------------------


def test_load_from_package_copy(weights_dir):
    weights, _ = make_weights()  # not on any Hub: hub_revision is None
    model = cifarnets.resnet20(weights="test_v1")
    assert same_weights(model, reference_net())
    assert not model.training, "pretrained nets come back in eval mode"
    assert model.pretrained_weights == weights
    assert same_weights(cifarnets.resnet20(pretrained=True), model)  # DEFAULT
    assert same_weights(cifarnets.get_model("resnet20", weights="resnet20.test_v1"), model)
    assert same_weights(cifarnets.resnet20(weights=weights), model)


def test_unknown_or_mismatched_weights(weights_dir):
    with pytest.raises(
        UnknownWeightsError, match="no pretrained weights are published for resnet20 yet"
    ):
        cifarnets.resnet20(pretrained=True)
    make_weights()
    with pytest.raises(UnknownWeightsError, match=r"unknown weights 'v9'.*resnet20\.test_v1"):
        cifarnets.resnet20(weights="v9")
    with pytest.raises(UnknownWeightsError, match="are for resnet20, not resnet56"):
        cifarnets.resnet56(weights="resnet20.test_v1")
    with pytest.raises(TypeError, match="weights must be"):
        cifarnets.resnet20(weights=3)


def test_another_num_classes_loads_all_but_the_head(weights_dir, caplog):
    """timm's rule: pretrained body, fresh classifier, said in one log line."""
    make_weights()
    with caplog.at_level("WARNING", logger="cifarnets"):
        model = cifarnets.resnet20(weights="test_v1", num_classes=100)
    assert model.fc.out_features == 100 and model.num_classes == 100
    reference = reference_net().state_dict()
    body = {k: v for k, v in model.state_dict().items() if not k.startswith("fc.")}
    assert all(torch.equal(v, reference[k]) for k, v in body.items())
    (record,) = caplog.records
    assert "except its 10-class classifier" in record.getMessage()
    assert model.pretrained_weights.name == "resnet20.test_v1"
    assert cifarnets.resnet20(pretrained=True, num_classes=100).fc.out_features == 100
    assert cifarnets.resnet20(weights="test_v1", num_classes=10).num_classes == 10
    with pytest.raises(ValueError, match="option A shortcuts"):  # a contradiction
        cifarnets.resnet20(weights="test_v1", shortcut="B")


def test_transforms_are_the_weights_own(weights_dir):
    weights, _ = make_weights()
    transform = weights.transforms()
    images_u8 = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    expected = cifarnets.data.normalize(images_u8, weights.mean, weights.std)
    torch.testing.assert_close(transform(images_u8), expected)
    torch.testing.assert_close(transform(images_u8.float() / 255), expected)
    torch.testing.assert_close(transform(images_u8[0]), expected[0])
    with pytest.raises(ValueError, match=r"expected a PIL image or an RGB image tensor"):
        transform(torch.zeros(2, 1, 32, 32))
    # What torchvision's data sets hand a transform: a PIL image.
    from PIL import Image

    pil = Image.fromarray(images_u8[0].permute(1, 2, 0).numpy())
    torch.testing.assert_close(transform(pil), expected[0])
    # 0..255 floats would normalise to nonsense without a word: refused.
    with pytest.raises(ValueError, match=r"float images must be in \[0, 1\], got values up to 2"):
        transform(images_u8.float())
    imagenet = Weights.from_dict(
        {**weights.to_dict(), "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}
    )
    assert not torch.allclose(imagenet.transforms()(images_u8), expected)


def test_get_model_weights_and_defaults_per_dataset(weights_dir):
    assert list(cifarnets.get_model_weights("resnet20")) == []
    own, _ = make_weights(tag="cifar10_v1")
    other, _ = make_weights(tag="cifar10_v0", default=False)
    assert {w.value.name for w in cifarnets.get_model_weights("resnet20")} == {own.name, other.name}
    assert cifarnets.default_weights("resnet20") == own
    assert cifarnets.default_weights("resnet20", "cifar100") is None
    assert own.meta["categories"][0] == "airplane" and own.meta["num_params"] == 269_722
    with pytest.raises(cifarnets.UnknownModelError):
        cifarnets.get_model_weights("resnet21")


def test_get_model_weights_is_torchvisions_enum(weights_dir):
    import copy
    import pickle

    own, _ = make_weights(tag="cifar10_v1")
    other, _ = make_weights(tag="cifar10_v0", default=False)
    ResNet20_Weights = cifarnets.get_model_weights("resnet20")  # noqa: N806
    assert ResNet20_Weights.__name__ == "ResNet20_Weights" and len(ResNet20_Weights) == 2
    assert [m.value for m in ResNet20_Weights] == [own, other]  # each once, DEFAULT aliased
    assert ResNet20_Weights.DEFAULT is ResNet20_Weights.cifar10_v1 is ResNet20_Weights.CIFAR10_V1
    assert ResNet20_Weights["cifar10_v0"].value == other
    member = ResNet20_Weights.DEFAULT
    assert member.test_error == own.test_error and member.meta == own.meta  # Weights' attributes
    assert member.transforms().mean == own.mean and repr(member) == "ResNet20_Weights.cifar10_v1"
    assert pickle.loads(pickle.dumps(member)) is member and copy.deepcopy(member) is member
    assert cifarnets.get_model_weights("resnet20") is ResNet20_Weights  # one class per manifest
    model = cifarnets.resnet20(weights=ResNet20_Weights.DEFAULT)
    assert model.pretrained_weights == own
    assert not hasattr(cifarnets.get_model_weights("plain20"), "DEFAULT")  # none published


def test_weights_by_torchvisions_names(weights_dir):
    own, _ = make_weights(tag="cifar10_v1")
    other, _ = make_weights(tag="cifar10_v0", default=False)
    for name in (
        "resnet20.DEFAULT",
        "ResNet20_Weights.DEFAULT",
        "ResNet20_Weights.CIFAR10_V1",
        "resnet20.cifar10_v1",
    ):
        assert cifarnets.get_weights(name) == own, name
        # torchvision's get_weight gives the enum member, whose value is the Weights.
        assert cifarnets.get_weight(name) is cifarnets.get_model_weights("resnet20").DEFAULT
    assert cifarnets.get_weights("ResNet20_Weights.CIFAR10_V0") == other
    assert cifarnets.resnet20(weights="ResNet20_Weights.DEFAULT").pretrained_weights == own
    with pytest.raises(UnknownWeightsError, match="are for resnet20, not resnet32"):
        cifarnets.resnet32(weights="ResNet20_Weights.DEFAULT")
    with pytest.raises(UnknownWeightsError, match="no pretrained weights are published for pl"):
        cifarnets.get_weights("Plain20_Weights.DEFAULT")


def test_the_enum_class_pickles_and_reserved_tags_never_break_it(weights_dir):
    import pickle

    from cifarnets import publish
    from cifarnets.weights import RESERVED_TAGS

    own, _ = make_weights(tag="cifar10_v1")
    enum_class = cifarnets.get_model_weights("resnet20")
    assert pickle.loads(pickle.dumps(enum_class)) is enum_class
    from cifarnets.weights import ResNet20_Weights  # torchvision's import form

    assert ResNet20_Weights is enum_class
    # A tag Python's enum refuses ("mro") in a hand-written manifest leaves the net's
    # other weights usable; publishing refuses such tags outright.
    table, defaults = publish.read_folder(weights_dir)
    odd = cifarnets.Weights.from_dict({**own.to_dict(), "tag": "mro"})
    publish.write_manifest(weights_dir, {**table, odd.name: odd}, defaults)
    assert [m.value.tag for m in cifarnets.get_model_weights("resnet20")] == ["cifar10_v1"]
    for tag in sorted(RESERVED_TAGS):
        with pytest.raises(cifarnets.PublishError, match="not one of"):
            publish._check_names("resnet20", tag, "cifarnets")


def test_list_models_pretrained_lists_only_nets_with_weights(weights_dir):
    assert cifarnets.list_models("plain*", pretrained=True) == []
    make_weights("plain20", tag="cifar10_v1")
    make_weights("resnet20", tag="cifar10_v1")
    assert cifarnets.list_models("plain*", pretrained=True) == ["plain20"]
    assert cifarnets.list_models(pretrained=True) == ["resnet20", "plain20"]
    assert len(cifarnets.list_models()) > len(cifarnets.list_models(pretrained=True))


def test_progress_false_turns_the_download_bar_off_for_that_download(
    weights_dir, fake_hub, monkeypatch
):
    import huggingface_hub
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars

    make_weights(tag="test_v1", hub=fake_hub, package_copy=False)
    seen = []
    real = huggingface_hub.hf_hub_download

    def spy(*args, **kwargs):
        seen.append(kwargs.get("tqdm_class"))
        return real(*args, **kwargs)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", spy)
    disable_progress_bars("huggingface_hub.lfs_upload")  # the user's own setting
    try:
        cifarnets.resnet20(weights="test_v1", progress=False)
        (quiet,) = seen
        assert quiet is not None and quiet(total=3).disable  # this download's bar only
        assert are_progress_bars_disabled("huggingface_hub.lfs_upload")  # left as it was
        assert not are_progress_bars_disabled()
    finally:
        huggingface_hub.utils.enable_progress_bars()
    cifarnets.resnet20(weights="test_v1")  # bars as huggingface_hub decides by default
    assert seen[-1] is None


def test_torch_hub_load_takes_torchvisions_arguments():
    # torchvision's builders take progress=; code written for them passes it.
    model = torch.hub.load(
        str(REPO), "resnet20", source="local", pretrained=True, progress=False, trust_repo=True
    )
    assert model.pretrained_weights == cifarnets.default_weights("resnet20")
    weight = torch.hub.load(
        str(REPO), "get_weight", "ResNet20_Weights.DEFAULT", source="local", trust_repo=True
    )
    assert weight.value == model.pretrained_weights
    enum = torch.hub.load(
        str(REPO), "get_model_weights", "resnet56", source="local", trust_repo=True
    )
    assert enum.DEFAULT.value == cifarnets.default_weights("resnet56")


def test_unknown_weights_list_the_accepted_forms(weights_dir):
    make_weights()
    with pytest.raises(UnknownWeightsError) as excinfo:
        cifarnets.resnet20(weights="nonsense")
    message = str(excinfo.value)
    for form in (
        '"DEFAULT"',
        'a tag such as "test_v1"',
        'a full name such as "resnet20.test_v1"',
        "cifarnets.Weights",
        "cifarnets.load_weights_file(model, path)",
    ):
        assert form in message, form


def test_load_weights_file_describes_the_file_it_loaded(weights_dir, tmp_path):
    make_weights()
    model = cifarnets.resnet20(weights="test_v1")
    path = tmp_path / "other.safetensors"
    from cifarnets._safetensors import canonical_bytes

    path.write_bytes(
        canonical_bytes(
            reference_net(seed=5).state_dict(), {"arch": "resnet20", "dataset": "cifar10"}
        )
    )
    cifarnets.load_weights_file(model, path)
    described = model.pretrained_weights
    assert described.tag == "local" and described.source["path"] == str(path.resolve())
    assert described.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert described.arch == "resnet20" and described.mean == DATASETS["cifar10"].mean


@pytest.mark.parametrize("meta", [{"dataset": "imagenet"}, {"mean": "[0.5, 0.5"}])
def test_a_file_that_cannot_be_described_is_not_loaded(weights_dir, tmp_path, meta):
    """Never new weights under the old weights' name and sha256."""
    from cifarnets._safetensors import canonical_bytes

    make_weights()
    model = cifarnets.resnet20(weights="test_v1")
    before = model.pretrained_weights
    path = tmp_path / "other.safetensors"
    path.write_bytes(canonical_bytes(reference_net(seed=5).state_dict(), meta))
    with pytest.raises(WeightsIntegrityError, match="metadata cifarnets cannot read"):
        cifarnets.load_weights_file(model, path)
    assert model.pretrained_weights == before and same_weights(model, reference_net())


def test_a_file_of_another_net_with_the_same_shapes_is_refused(tmp_path):
    from cifarnets._safetensors import canonical_bytes

    path = tmp_path / "resnet20.safetensors"
    path.write_bytes(canonical_bytes(reference_net().state_dict(), {"arch": "resnet20"}))
    plain = cifarnets.plain20()
    before = {k: v.clone() for k, v in plain.state_dict().items()}
    with pytest.raises(WeightsIntegrityError, match="holds weights of resnet20.*net is plain20"):
        cifarnets.load_weights_file(plain, path)
    assert all(torch.equal(before[k], v) for k, v in plain.state_dict().items())


def test_file_that_does_not_fit_the_net_is_refused(weights_dir):
    wrong = reference_net("resnet32").state_dict()
    make_weights(state_dict=wrong)  # hash matches, shapes do not
    expected = r"does not fit CifarResNet: unexpected 72 keys \(layer1\.3\."
    with pytest.raises(WeightsIntegrityError, match=expected):
        cifarnets.resnet20(weights="test_v1")


def test_load_weights_file_leaves_the_net_untouched_on_mismatch(tmp_path):
    path = tmp_path / "w.safetensors"
    state = reference_net("resnet20", seed=1).state_dict()
    state["fc.weight"] = torch.zeros(5, 64)
    path.write_bytes(save(state))
    model = reference_net()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(WeightsIntegrityError, match=r"fc.weight: file \(5, 64\), net \(10, 64\)"):
        cifarnets.load_weights_file(model, path)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    prefixed = {f"module.{k}": v for k, v in reference_net().state_dict().items()}
    path.write_bytes(save(prefixed))
    with pytest.raises(WeightsIntegrityError, match="strip that DataParallel prefix"):
        cifarnets.load_weights_file(model, path)


def test_pickle_is_never_loaded(weights_dir):
    buffer = io.BytesIO()
    torch.save(reference_net().state_dict(), buffer)  # a pickle, with a matching hash
    make_weights(data=buffer.getvalue())
    with pytest.raises(WeightsIntegrityError, match="not a readable safetensors file"):
        cifarnets.resnet20(weights="test_v1")


def test_a_local_file_without_metadata_is_described_without_guesses(tmp_path):
    path = tmp_path / "bare.safetensors"
    path.write_bytes(save(reference_net().state_dict()))  # no metadata at all
    described = cifarnets.load_weights_file(reference_net(seed=1), path).pretrained_weights
    assert described.license == "unknown"
    assert described.source["normalisation"].startswith("assumed")
    assert described.source["dataset"] == "assumed cifar10: the file does not say"
    assert (described.mean, described.std) == (DATASETS["cifar10"].mean, DATASETS["cifar10"].std)


def test_a_truncated_local_file_says_the_fix_and_leaves_the_net_alone(tmp_path):
    path = tmp_path / "trunc.safetensors"
    path.write_bytes(save(reference_net().state_dict())[:50_000])
    model = reference_net(seed=1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(WeightsIntegrityError, match="not a readable safetensors file.*Fix:"):
        cifarnets.load_weights_file(model, path)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_corrupted_package_copy(weights_dir):
    weights, data = make_weights()
    path = weights_dir / weights.filename
    path.write_bytes(data[:-10] + b"x" * 10)
    with pytest.raises(
        WeightsIntegrityError, match=r"has sha256 .* expected .*Fix: fix or replace it"
    ):
        cifarnets.resnet20(weights="test_v1")
    path.write_bytes(data[:1000])
    with pytest.raises(WeightsIntegrityError, match="is 1,000 bytes.*truncated"):
        cifarnets.resnet20(weights="test_v1")


def test_broken_manifest_is_a_clear_error(weights_dir):
    (weights_dir / "manifest.json").write_text("{not json")
    with pytest.raises(cifarnets.WeightsError, match="cannot read the weights manifest"):
        cifarnets.list_weights()


# -- the Hub ----------------------------------------------------------------------------


def test_first_download_then_cache_with_server_stopped(weights_dir, fake_hub):
    weights, _ = make_weights(hub=fake_hub, package_copy=False)
    model = cifarnets.resnet20(weights="test_v1")
    assert same_weights(model, reference_net())
    assert fake_hub.count("resolve", "GET") == 1
    cached = list(Path(constants.HF_HUB_CACHE).rglob("model.safetensors"))
    assert len(cached) == 1 and weights.hub_revision in str(cached[0])

    fake_hub.stop()
    requests = len(fake_hub.requests)
    again = cifarnets.resnet20(weights="test_v1")
    assert same_weights(again, model)
    assert len(fake_hub.requests) == requests, "a cached pinned file needs no request"


def test_hub_and_package_serve_the_same_bytes(weights_dir, fake_hub, monkeypatch):
    make_weights(hub=fake_hub, package_copy=True)
    from_hub = load_state_dict("resnet20.test_v1")
    assert fake_hub.count("resolve", "GET") == 1, "the Hub is tried first"
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    (Path(constants.HF_HUB_CACHE)).rename(Path(constants.HF_HUB_CACHE + ".moved"))
    from_package = load_state_dict("resnet20.test_v1")
    assert from_hub.keys() == from_package.keys()
    assert all(torch.equal(from_hub[k], from_package[k]) for k in from_hub)


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_cached_file_is_downloaded_again(weights_dir, fake_hub, damage):
    weights, data = make_weights(hub=fake_hub, package_copy=False)
    cifarnets.resnet20(weights="test_v1")
    (snapshot,) = Path(constants.HF_HUB_CACHE).rglob("model.safetensors")
    blob = snapshot.resolve()
    damaged = data[:-1] + bytes([data[-1] ^ 1]) if damage == "flip" else data[: len(data) // 2]
    blob.chmod(0o644)
    blob.write_bytes(damaged)
    with pytest.warns(UserWarning, match="cached copy was damaged.*downloaded it again"):
        model = cifarnets.resnet20(weights="test_v1")
    assert same_weights(model, reference_net())
    assert blob.read_bytes() == data


def test_a_damaged_cache_with_the_hub_down_names_the_file_and_fix(weights_dir, fake_hub):
    weights, data = make_weights(hub=fake_hub, package_copy=False)
    cifarnets.resnet20(weights="test_v1")
    (snapshot,) = Path(constants.HF_HUB_CACHE).rglob("model.safetensors")
    snapshot.resolve().chmod(0o644)
    snapshot.resolve().write_bytes(data[:1000])
    fake_hub.stop()
    with pytest.raises(WeightsIntegrityError) as excinfo:
        cifarnets.resnet20(weights="test_v1")
    message = str(excinfo.value)
    assert str(snapshot) in message and "truncated" in message and "rm -r" in message
    assert "models--" in message


def damage_the_cached_copy(data: bytes) -> None:
    (snapshot,) = Path(constants.HF_HUB_CACHE).rglob("model.safetensors")
    snapshot.resolve().chmod(0o644)
    snapshot.resolve().write_bytes(data[:1000])


@pytest.mark.parametrize("hub", ["down", "offline"])
def test_a_damaged_cache_gives_way_to_the_package(weights_dir, fake_hub, monkeypatch, hub):
    weights, data = make_weights(hub=fake_hub, package_copy=True)
    cifarnets.resnet20(weights="test_v1")  # cached
    damage_the_cached_copy(data)
    if hub == "down":
        fake_hub.stop()
    else:
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.warns(UserWarning, match=f"truncated.*rm -r.*{FOLDERS_COPY}"):
        model = cifarnets.resnet20(weights="test_v1")
    assert same_weights(model, reference_net())


def test_the_delete_the_cached_copy_advice_works(weights_dir, fake_hub, monkeypatch):
    weights, data = make_weights(hub=fake_hub, package_copy=False)
    cifarnets.resnet20(weights="test_v1")
    damage_the_cached_copy(data)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(WeightsIntegrityError, match="load again online") as excinfo:
        cifarnets.resnet20(weights="test_v1")
    command = re.search(r"rm -r (\S+)\)", str(excinfo.value)).group(1)
    shutil.rmtree(command)  # what the message says to do
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    assert same_weights(cifarnets.resnet20(weights="test_v1"), reference_net())


def test_a_hub_that_serves_other_bytes_gives_way_to_the_package(weights_dir, fake_hub):
    weights, data = make_weights(hub=fake_hub, package_copy=True)
    # The pinned commit now serves other bytes (a rewritten history): not a cache problem.
    fake_hub._repos[weights.hub_repo].commits[weights.hub_revision]["model.safetensors"] = (
        data[:-1] + b"\x00"
    )
    with pytest.warns(
        UserWarning,
        match=f"does not match the published sha256 even when downloaded again.*{FOLDERS_COPY}",
    ):
        model = cifarnets.resnet20(weights="test_v1")
    assert same_weights(model, reference_net())
    (weights_dir / weights.filename).unlink()
    with pytest.raises(WeightsUnavailableError, match="deleting the cache will not help"):
        cifarnets.resnet20(weights="test_v1")


def test_a_hub_that_dies_mid_download_gives_way_to_the_package(weights_dir, fake_hub):
    make_weights(hub=fake_hub, package_copy=True)
    fake_hub.die_mid_download = True
    start = time.monotonic()
    with pytest.warns(UserWarning, match=f"cannot reach.*{FOLDERS_COPY}"):
        model = cifarnets.resnet20(weights="test_v1")
    assert same_weights(model, reference_net()) and time.monotonic() - start < 15


def test_a_hub_that_dies_mid_download_without_a_package_copy(weights_dir, fake_hub):
    make_weights(hub=fake_hub, package_copy=False)
    fake_hub.die_mid_download = True
    with pytest.raises(WeightsUnavailableError, match="cannot reach.*Fix: connect"):
        cifarnets.resnet20(weights="test_v1")


def test_a_single_503_is_retried(weights_dir, fake_hub):
    make_weights(hub=fake_hub, package_copy=False)
    fake_hub.fail_next(503)
    model = cifarnets.resnet20(weights="test_v1")
    assert same_weights(model, reference_net())
    fake_hub.fail_next(503, count=10)
    Path(constants.HF_HUB_CACHE).rename(Path(constants.HF_HUB_CACHE + ".moved"))
    with pytest.raises(WeightsUnavailableError, match="answered HTTP 503 3 times.*Fix: connect"):
        cifarnets.resnet20(weights="test_v1")


def test_an_invalid_repo_id_is_a_weights_error(weights_dir, fake_hub):
    weights, _ = make_weights(hub=fake_hub, package_copy=False)
    from cifarnets.publish import read_folder, write_manifest

    table, defaults = read_folder(weights_dir)
    bad = Weights.from_dict({**weights.to_dict(), "hub_repo": "not a/valid//id"})
    write_manifest(weights_dir, {bad.name: bad}, defaults)
    with pytest.raises(WeightsUnavailableError, match="invalid Hub repo id.*Fix: upgrade"):
        cifarnets.resnet20(weights="test_v1")


def test_a_corrupt_file_in_a_private_folder_says_to_fix_that_folder(weights_dir):
    weights, data = make_weights()
    (weights_dir / weights.filename).write_bytes(data[:-3] + b"abc")
    with pytest.raises(WeightsIntegrityError, match="CIFARNETS_PRETRAINED_DIR") as excinfo:
        cifarnets.resnet20(weights="test_v1")
    assert "reinstall" not in str(excinfo.value)


def test_a_missing_file_in_a_private_folder_says_to_fix_that_folder(weights_dir, fake_hub):
    make_weights(package_copy=False)  # not uploaded either
    with pytest.raises(WeightsUnavailableError, match="CIFARNETS_PRETRAINED_DIR") as excinfo:
        cifarnets.resnet20(weights="test_v1")
    assert "reinstall" not in str(excinfo.value) and "wheel" not in str(excinfo.value)
    make_weights(hub=fake_hub, package_copy=False)
    fake_hub.stop()
    with pytest.raises(WeightsUnavailableError, match="CIFARNETS_PRETRAINED_DIR") as excinfo:
        cifarnets.resnet20(weights="test_v1")
    assert "wheel" not in str(excinfo.value)


def test_builders_pass_cache_dir_and_identify_the_library(
    weights_dir, fake_hub, tmp_path, monkeypatch
):
    make_weights(hub=fake_hub, package_copy=False)
    import huggingface_hub

    seen = {}
    real = huggingface_hub.hf_hub_download

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", spy)
    cifarnets.resnet20(weights="test_v1", cache_dir=str(tmp_path / "mine"))
    assert seen["library_name"] == "cifarnets"
    assert seen["library_version"] == cifarnets.__version__
    assert list((tmp_path / "mine").rglob("model.safetensors"))


def test_unknown_revision(weights_dir, fake_hub):
    weights, _ = make_weights(hub=fake_hub, package_copy=True)
    repinned = Weights.from_dict({**weights.to_dict(), "hub_revision": "f" * 40})
    from cifarnets.publish import write_manifest

    write_manifest(weights_dir, {weights.name: repinned}, {"resnet20": {"cifar10": "test_v1"}})
    # With a packaged copy the load goes on, and says why it did not use the Hub ...
    with pytest.warns(UserWarning, match=f"RevisionNotFoundError.*{FOLDERS_COPY}"):
        model = cifarnets.resnet20(weights="test_v1")
    assert same_weights(model, reference_net())
    # ... without one, it is an error that names the revision and the fix.
    (weights_dir / weights.filename).unlink()
    expected = r"(?s)RevisionNotFoundError.*ffff.*no packaged copy.*Fix: upgrade"
    with pytest.raises(WeightsUnavailableError, match=expected):
        cifarnets.resnet20(weights="test_v1")


def test_server_down_and_nothing_cached_fails_fast(weights_dir, fake_hub):
    make_weights(hub=fake_hub, package_copy=False)
    fake_hub.stop()
    start = time.monotonic()
    with pytest.raises(WeightsUnavailableError, match=r"cannot reach .*no packaged copy.*Fix"):
        cifarnets.resnet20(weights="test_v1")
    assert time.monotonic() - start < 5


def test_server_down_falls_back_to_the_package(weights_dir, fake_hub):
    make_weights(hub=fake_hub, package_copy=True)
    fake_hub.stop()
    with pytest.warns(UserWarning, match=FOLDERS_COPY):
        model = cifarnets.resnet20(weights="test_v1")
    assert same_weights(model, reference_net())


def test_hf_hub_offline_is_respected(weights_dir, fake_hub, monkeypatch):
    make_weights(hub=fake_hub, package_copy=True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    model = cifarnets.resnet20(weights="test_v1")  # no warning: offline was asked for
    assert same_weights(model, reference_net())
    assert fake_hub.requests == []


def test_two_processes_load_the_same_weights_at_once(weights_dir, fake_hub):
    make_weights(hub=fake_hub, package_copy=False)
    fake_hub.delay_s = 0.3  # widen the window in which both processes download
    code = (
        "import cifarnets, hashlib; m = cifarnets.resnet20(weights='test_v1'); "
        "print(hashlib.sha256(b''.join(v.numpy().tobytes() "
        "for v in m.state_dict().values())).hexdigest())"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    assert outputs[0][0] == outputs[1][0] and len(outputs[0][0].strip()) == 64
    assert fake_hub.count("resolve", "GET") == 1, "the cache lock lets one process download"


# -- publishing --------------------------------------------------------------------------


def test_publish_dry_run_writes_the_repo_offline(weights_dir, tmp_path, capsys):
    weights, data = make_weights()
    assert cli_main(["publish", "hub", "--out", str(tmp_path / "hub"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"[dry run] would upload to {weights.hub_repo}" in out
    folder = tmp_path / "hub" / weights.name
    assert (folder / "model.safetensors").read_bytes() == data
    config = json.loads((folder / "config.json").read_text())
    assert config["sha256"] == weights.sha256 and config["num_classes"] == 10
    card = (folder / "README.md").read_text()
    assert "library_name: timm" in card and "12.34 %" in card
    assert cifarnets.get_weights("resnet20.test_v1").hub_revision is None


def test_publish_upload_pins_the_commit_and_round_trips(weights_dir, fake_hub, tmp_path):
    weights, data = make_weights()
    assert cli_main(["publish", "hub", "--out", str(tmp_path / "hub")]) == 0
    pinned = cifarnets.get_weights("resnet20.test_v1")
    assert pinned.hub_revision is not None and len(pinned.hub_revision) == 40
    (weights_dir / weights.filename).unlink()  # only the Hub can serve it now
    model = cifarnets.resnet20(weights="test_v1")
    assert same_weights(model, reference_net())
    assert fake_hub.count("commit", "POST") == 1


# -- timm and torch.hub -------------------------------------------------------------------


def test_timm_create_model_gives_the_same_net_and_weights(weights_dir):
    make_weights()
    ours = cifarnets.resnet20(weights="test_v1")
    for name in ("cifar_resnet20", "cifar_resnet20.test_v1"):
        theirs = timm.create_model(name, pretrained=True).eval()
        with torch.no_grad():
            assert torch.equal(theirs(images()), ours(images()))
        assert theirs.pretrained_cfg["mean"] == ours.pretrained_weights.mean
    untrained = timm.create_model("cifar_plain56", num_classes=100)
    assert untrained.fc.out_features == 100 and not hasattr(untrained, "pretrained_weights")
    config = timm.data.resolve_data_config(model=untrained)
    assert config["input_size"] == (3, 32, 32)


def test_timm_names_do_not_collide():
    assert set(timm.list_models("cifar_*")) == {f"cifar_{n}" for n in cifarnets.list_models()}
    assert not any(n.startswith("cifar_") for n in timm.list_models("resnet2*"))


def test_torch_hub_local(weights_dir):
    make_weights()
    model = torch.hub.load(str(REPO), "resnet20", source="local", pretrained=True)
    assert same_weights(model, reference_net())
    model = torch.hub.load(str(REPO), "plain20", source="local", num_classes=100)
    assert model.fc.out_features == 100


# -- the packaged weights themselves --------------------------------------------------------


def check_metadata(weights: Weights) -> None:
    """What every published weight must satisfy: its file (size, sha256, keys, shapes)
    fits its net, and the metadata tells the truth about both."""
    info = cifarnets.model_info(weights.arch)
    model = cifarnets.get_model(weights.arch, weights=weights)
    assert model.num_classes == weights.num_classes
    assert sum(p.numel() for p in model.parameters()) == weights.num_params
    assert weights.num_params == info.num_params + (weights.num_classes - 10) * (
        info.num_features + 1
    )
    if weights.ported:
        # Ported weights keep the normalisation they were trained with, and say where
        # they come from, under which license, and how their checkpoint was chosen.
        assert {"repository", "commit", "file", "file_sha256", "license", "copyright"} <= set(
            weights.source
        )
        assert weights.license == weights.source["license"]
        assert "selected_on_test" in weights.metrics
    else:
        assert (weights.mean, weights.std) == (
            DATASETS[weights.dataset].mean,
            DATASETS[weights.dataset].std,
        )
        assert weights.recipe.get("command")
    assert weights.test_error is not None
    assert weights.hub_repo.endswith(f"/{weights.name}")
    assert weights.report_label == info.report_label and weights.family == info.family


def test_metadata_check_catches_a_false_entry(weights_dir):
    weights, _ = make_weights()
    check_metadata(weights)
    for wrong in (
        {"num_params": weights.num_params + 1},
        {"std": (0.2023, 0.1994, 0.2010)},
        {"hub_repo": "cifarnets/resnet20.other"},
    ):
        with pytest.raises(AssertionError):
            check_metadata(Weights.from_dict({**weights.to_dict(), **wrong}))


@pytest.mark.parametrize(
    "name",
    cifarnets.list_weights()
    or [pytest.param(None, marks=pytest.mark.skip(reason="no weights are published yet"))],
)
def test_packaged_weights_match_their_metadata(name):
    weights = cifarnets.get_weights(name)
    check_metadata(weights)
    # Published numbers are full-test-set numbers, and the file itself records the
    # normalisation the manifest promises (what `eval --weights FILE` reads).
    assert weights.metrics.get("test_images") == 10_000
    _, file_meta = read_safetensors(cifarnets.hub.fetch(weights), name)
    assert file_meta["arch"] == weights.arch and file_meta["dataset"] == weights.dataset
    assert tuple(json.loads(file_meta["mean"])) == weights.mean
    assert tuple(json.loads(file_meta["std"])) == weights.std


@pytest.mark.slow
def test_publish_add_packages_a_training_run(weights_dir, cifar10_root, tmp_path, capsys):
    """The chain the v1 weights will take: train -> publish add -> load -> re-check."""
    from cifarnets.evaluate import evaluate
    from cifarnets.training import RunSpec, get_recipe, train

    runs = tmp_path / "runs"
    recipe = get_recipe("smoke").with_changes(epochs=1, milestones=(), batch_size=64)
    specs = [
        RunSpec("resnet20", recipe=recipe, seed=seed, train_subset=256, test_subset=128)
        for seed in (0, 1)
    ]
    train(specs, data_root=cifar10_root, out_dir=runs, command="made here")
    run_dirs = [str(runs / s.name) for s in specs]
    # A check run is not its recipe's experiment: publishing it needs the explicit flag.
    code = cli_main(["publish", "add", *run_dirs, "--tag", "smoke_v1", "--data", str(cifar10_root)])
    assert code == 2 and "--allow-partial" in capsys.readouterr().err
    assert (
        cli_main(
            [
                "publish",
                "add",
                *run_dirs,
                "--tag",
                "smoke_v1",
                "--data",
                str(cifar10_root),
                "--allow-partial",
            ]
        )
        == 0
    )
    assert "added resnet20.smoke_v1 (PARTIAL): test error" in capsys.readouterr().out
    weights = cifarnets.get_weights("resnet20.smoke_v1")
    assert weights.metrics["seeds"] == [0, 1] and "test_error_std" in weights.metrics
    assert weights.recipe["command"].startswith("cifarnets train --models resnet20 --seeds 0 1")
    assert weights.hub_revision is None
    assert cifarnets.resnet20(pretrained=True).pretrained_weights == weights  # the DEFAULT
    check_metadata(weights)
    # What tests/test_published.py re-checks on every CI run, for the real weights.
    from cifarnets.data import load_split

    images, labels = load_split("cifar10", cifar10_root, train=False)
    model = cifarnets.resnet20(weights="smoke_v1")
    result = evaluate(model, images, labels, mean=weights.mean, std=weights.std)
    assert abs(result.error - weights.test_error) <= 0.05
    # A run without its weights, or not finished, cannot be published.
    (runs / specs[0].name / "weights.safetensors").unlink()
    code = cli_main(["publish", "add", run_dirs[0], "--tag", "x", "--data", str(cifar10_root)])
    assert code == 2 and "has no weights.safetensors" in capsys.readouterr().err
    summary = runs / specs[1].name / "summary.json"
    summary.write_text(summary.read_text().replace('"finished"', '"diverged"'))
    code = cli_main(["publish", "add", run_dirs[1], "--tag", "x", "--data", str(cifar10_root)])
    assert code == 2 and "status is 'diverged'" in capsys.readouterr().err
