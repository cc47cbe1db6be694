"""timm's model contract, as timm's own model tests check it (tests/test_models.py in
huggingface/pytorch-image-models, run over the cifar_* nets: see CONTRIBUTING.md), kept
here in a form that runs in seconds, plus the pretrained configs and the hf-hub path."""

from __future__ import annotations

import json

import pytest
import timm
import torch
from helpers import make_weights
from safetensors.torch import save

import cifarnets
from cifarnets.cli import main as cli_main
from cifarnets.datasets import CATEGORIES

# One net per kind of block and shortcut.
KINDS = ["resnet20", "plain20", "resnet83", "plain83"]


def images(n: int = 2) -> torch.Tensor:
    return torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def create(name: str, **kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    return timm.create_model(f"cifar_{name}", **kwargs).eval()


@pytest.mark.parametrize("name", KINDS)
def test_features_head_and_classifier(name):
    model = create(name)
    x = images()
    with torch.no_grad():
        features = model.forward_features(x)
        assert features.shape == (2, model.num_features, 8, 8)  # unpooled, as in timm
        pooled = model.forward_head(features, pre_logits=True)
        assert pooled.shape == (2, model.num_features) == (2, model.head_hidden_size)
        torch.testing.assert_close(model.forward_head(features), model(x))
    assert model.get_classifier() is model.fc and model.fc.in_features == model.num_features
    cfg = model.pretrained_cfg
    assert cfg["input_size"] == (3, 32, 32) and cfg["pool_size"] == (8, 8)
    assert model.get_submodule(cfg["first_conv"]).in_channels == 3
    assert model.get_submodule(cfg["classifier"]) is model.fc
    assert model.default_cfg == cfg


def test_num_classes_zero_and_global_pool():
    model = create("resnet20", num_classes=0)
    assert isinstance(model.fc, torch.nn.Identity)
    assert model(images()).shape == (2, model.num_features)
    unpooled = create("resnet20", num_classes=0, global_pool="")
    assert unpooled(images()).shape == (2, 64, 8, 8)
    assert create("resnet20", global_pool="max")(images()).shape == (2, 10)
    with pytest.raises(ValueError, match="global_pool must be one of"):
        create("resnet20", global_pool="attention")


def test_no_pooling_needs_no_classifier():
    for build in (
        lambda: cifarnets.CifarResNet("basic", 3, shortcut="A", global_pool=""),
        lambda: create("resnet20", global_pool=""),
        lambda: create("resnet20").reset_classifier(10, global_pool=""),
    ):
        with pytest.raises(ValueError, match="global_pool='' .* needs num_classes=0"):
            build()


def test_timm_training_arguments():
    """What timm's train.py passes: regularisers (the nets have none: only 0 or None) and
    where to put the net."""
    model = create(
        "resnet20",
        drop_rate=0.0,
        drop_path_rate=None,
        drop_block_rate=None,
        device="cpu",
        dtype=torch.float64,
    )
    assert model.conv1.weight.dtype == torch.float64
    with pytest.raises(ValueError, match="has no drop_path .* got drop_path_rate=0.1"):
        create("resnet20", drop_path_rate=0.1)


def test_reset_classifier():
    model = create("resnet20")
    model.reset_classifier(5)
    assert model.num_classes == 5 and model(images()).shape == (2, 5)
    model.reset_classifier(0, global_pool="")
    assert model(images()).shape == (2, 64, 8, 8)


@pytest.mark.parametrize("name", ["resnet20", "resnet83"])
def test_features_only_and_forward_intermediates(name):
    model = create(name)
    features = create(name, features_only=True)
    x = images()
    with torch.no_grad():
        maps = features(x)
        final, intermediates = model.forward_intermediates(x)
        assert [tuple(m.shape[1:]) for m in maps] == [
            (c, 32 // r, 32 // r)
            for c, r in zip(
                features.feature_info.channels(), features.feature_info.reduction(), strict=True
            )
        ]
        assert features.feature_info.reduction() == [1, 1, 2, 4]
        for a, b in zip(maps, intermediates, strict=True):
            torch.testing.assert_close(a, b)  # same init (seed 0): same stage outputs
        torch.testing.assert_close(final, model.forward_features(x))
        last_two = model.forward_intermediates(x, indices=2, intermediates_only=True)
        assert [m.shape[1] for m in last_two] == features.feature_info.channels()[-2:]
        assert len(create(name, features_only=True, out_indices=(1, 3))(x)) == 2
    # timm's prune_intermediate_layers: what feature extraction keeps, nothing more.
    model.prune_intermediate_layers(indices=[1], prune_head=True)
    assert isinstance(model.fc, torch.nn.Identity)
    assert all(isinstance(getattr(model, f"layer{i}"), torch.nn.Identity) for i in (2, 3))
    with torch.no_grad():
        assert model(x).shape == (2, features.feature_info.channels()[1], 32, 32)


def test_grad_checkpointing_gives_the_same_gradients():
    x = images(4)
    grads = []
    for checkpointing in (False, True):
        model = create("resnet20").train()
        model.set_grad_checkpointing(checkpointing)
        model(x).square().sum().backward()
        grads.append(model.conv1.weight.grad)
    torch.testing.assert_close(grads[0], grads[1])


def test_pretrained_configs_list_the_published_weights():
    published = timm.list_pretrained("cifar_*")
    assert set(published) == {f"cifar_{n}" for n in cifarnets.list_weights()}
    for arch in ("resnet20", "resnet56"):
        model = timm.create_model(f"cifar_{arch}", pretrained=False)
        assert model.pretrained_cfg["tag"] == cifarnets.default_weights(arch).tag  # DEFAULT
    cfg = timm.create_model("cifar_resnet56.cifar10_akamaster").pretrained_cfg
    weights = cifarnets.get_weights("resnet56.cifar10_akamaster")
    assert (cfg["mean"], cfg["std"]) == (weights.mean, weights.std)  # ImageNet's, theirs
    assert cfg["license"] == "BSD-2-Clause" and cfg["num_classes"] == 10
    config = timm.data.resolve_data_config(model=timm.create_model("cifar_resnet56"))
    assert config["mean"] == weights.mean and config["input_size"] == (3, 32, 32)
    # timm 1.x reads the class names from the pretrained config (label_names).
    assert cfg["label_names"] == weights.categories == CATEGORIES["cifar10"]
    assert timm.create_model("cifar_plain110").pretrained_cfg["label_names"][0] == "airplane"
    assert (
        timm.create_model("cifar_resnet20", num_classes=100).pretrained_cfg.get("label_names")
        is None
    )  # CIFAR-100's names are not shipped


def test_pretrained_ported_weights_match_cifarnets():
    ours = cifarnets.resnet56(weights="cifar10_akamaster")
    theirs = timm.create_model("cifar_resnet56.cifar10_akamaster", pretrained=True).eval()
    with torch.no_grad():
        assert torch.equal(theirs(images()), ours(images()))
    assert theirs.pretrained_weights == ours.pretrained_weights


def test_checkpoint_path_replaces_the_description(tmp_path):
    torch.manual_seed(3)
    path = tmp_path / "mine.pth"
    torch.save(cifarnets.resnet20().state_dict(), path)
    model = timm.create_model("cifar_resnet20", pretrained=True, checkpoint_path=str(path))
    # The net now holds the checkpoint's weights, not the DEFAULT ones it was built with.
    assert torch.equal(model.conv1.weight, torch.load(path)["conv1.weight"])
    assert getattr(model, "pretrained_weights", None) is None


def test_in_chans_adapts_the_trained_stem():
    rgb = timm.create_model("cifar_resnet20", pretrained=True)
    gray = timm.create_model("cifar_resnet20", pretrained=True, in_chans=1)
    torch.testing.assert_close(gray.conv1.weight, rgb.conv1.weight.sum(1, keepdim=True))
    assert gray(torch.rand(1, 1, 32, 32)).shape == (1, 10)


def test_hf_hub_repo_written_by_publish_hub(weights_dir, fake_hub, tmp_path, capsys):
    """A user's own upload, named by its Hub repo only: timm reads config.json (it names
    the timm architecture), then the entrypoint fetches and checks model.safetensors."""
    weights, data = make_weights(tag="mine_v1")
    assert cli_main(["publish", "hub", "--out", str(tmp_path / "hub"), "--dry-run"]) == 0
    folder = tmp_path / "hub" / weights.name
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert json.loads(files["config.json"])["architecture"] == "cifar_resnet20"
    fake_hub.add_commit("someone/my-resnet20", files)
    model = timm.create_model("hf-hub:someone/my-resnet20", pretrained=True).eval()
    reference = cifarnets.resnet20(weights="mine_v1")
    with torch.no_grad():
        assert torch.equal(model(images()), reference(images()))
    assert model.pretrained_cfg["mean"] == weights.mean


def test_hf_hub_repo_of_a_cifar100_net_with_its_own_normalisation(weights_dir, fake_hub, tmp_path):
    """The head size comes from the repo's config.json, the constants from the file."""
    from cifarnets._safetensors import canonical_bytes

    torch.manual_seed(7)
    net = cifarnets.resnet20(num_classes=100)
    imagenet = {"mean": "[0.485, 0.456, 0.406]", "std": "[0.229, 0.224, 0.225]"}
    data = canonical_bytes(
        net.state_dict(), {"arch": "resnet20", "dataset": "cifar100", **imagenet}
    )
    config = {
        "architecture": "cifar_resnet20",
        "num_classes": 100,
        "pretrained_cfg": {
            "num_classes": 100,
            "mean": [0.485, 0.456, 0.406],
            "std": [0.229, 0.224, 0.225],
        },
    }
    fake_hub.add_commit(
        "someone/c100", {"config.json": json.dumps(config).encode(), "model.safetensors": data}
    )
    model = timm.create_model("hf-hub:someone/c100", pretrained=True).eval()
    assert model.num_classes == 100 and model.pretrained_cfg["mean"] == (0.485, 0.456, 0.406)
    with torch.no_grad():
        assert torch.equal(model(images()), net.eval()(images()))
    finetune = timm.create_model("hf-hub:someone/c100", pretrained=True, num_classes=10)
    assert finetune.num_classes == 10
    assert torch.equal(finetune.conv1.weight, net.conv1.weight)  # the body is the repo's


def test_hf_hub_repo_with_a_file_of_another_shape_is_refused(weights_dir, fake_hub, tmp_path):
    weights, _ = make_weights(tag="mine_v1")
    assert cli_main(["publish", "hub", "--out", str(tmp_path / "hub"), "--dry-run"]) == 0
    folder = tmp_path / "hub" / weights.name
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    files["model.safetensors"] = save(cifarnets.resnet32().state_dict())
    fake_hub.add_commit("someone/bad-resnet20", files)
    with pytest.warns(UserWarning, match="states"), pytest.raises(cifarnets.WeightsError):
        timm.create_model("hf-hub:someone/bad-resnet20", pretrained=True)


def test_hf_hub_repo_without_its_file_is_a_clear_error(weights_dir, fake_hub, tmp_path):
    weights, _ = make_weights(tag="mine_v1")
    assert cli_main(["publish", "hub", "--out", str(tmp_path / "hub"), "--dry-run"]) == 0
    config = (tmp_path / "hub" / weights.name / "config.json").read_bytes()
    fake_hub.add_commit("someone/no-weights", {"config.json": config})
    with pytest.raises(
        cifarnets.WeightsUnavailableError, match="model.safetensors of hf-hub:someone/no-weights"
    ):
        timm.create_model("hf-hub:someone/no-weights", pretrained=True)


# -- every door timm offers to name a file loads that very file ---------------------------


def _published_folder(tmp_path, weights_dir):
    """A folder laid out like a published repo (`publish hub --dry-run`) whose
    model.safetensors is the user's own: a 100-class resnet20 unlike the packaged one."""
    from cifarnets._safetensors import canonical_bytes

    weights, _ = make_weights(tag="mine_v1")
    assert cli_main(["publish", "hub", "--out", str(tmp_path / "hub"), "--dry-run"]) == 0
    folder = tmp_path / "hub" / weights.name
    torch.manual_seed(11)
    theirs = cifarnets.resnet20(num_classes=100).eval()
    (folder / "model.safetensors").write_bytes(
        canonical_bytes(theirs.state_dict(), {"arch": "resnet20", "dataset": "cifar100"})
    )
    config = json.loads((folder / "config.json").read_text())
    config["num_classes"] = config["pretrained_cfg"]["num_classes"] = 100
    config["pretrained_cfg"]["mean"] = [0.5, 0.5, 0.5]
    config["sha256"] = cifarnets.hub.sha256_of(folder / "model.safetensors")  # its card
    (folder / "config.json").write_text(json.dumps(config))
    return folder, theirs


def _same_net(model, reference) -> bool:
    with torch.no_grad():
        return torch.equal(model.eval()(images()), reference(images()))


def test_local_dir_loads_the_folders_file_with_its_head_and_normalisation(
    weights_dir, tmp_path, recwarn
):
    folder, theirs = _published_folder(tmp_path, weights_dir)
    model = timm.create_model(f"local-dir:{folder}", pretrained=True)
    assert model.num_classes == 100 and _same_net(model, theirs)
    assert model.pretrained_cfg["mean"] == (0.5, 0.5, 0.5)
    assert model.pretrained_weights.tag == "local"  # not the packaged resnet20.mine_v1
    assert not [w for w in recwarn if "sha256" in str(w.message)]


def test_a_file_unlike_its_card_loads_with_a_warning_naming_both(weights_dir, tmp_path):
    folder, theirs = _published_folder(tmp_path, weights_dir)
    config = json.loads((folder / "config.json").read_text())
    config["sha256"] = "0" * 64
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.warns(UserWarning, match=f"has sha256 [0-9a-f]{{64}}, but .* states {'0' * 64}"):
        model = timm.create_model(f"local-dir:{folder}", pretrained=True)
    assert _same_net(model, theirs)  # never a substitution


@pytest.mark.parametrize("key", ["file", "url", "hf_hub_id"])
def test_pretrained_cfg_overlay_loads_the_named_file(key, weights_dir, fake_hub, tmp_path):
    from cifarnets._safetensors import canonical_bytes

    torch.manual_seed(5)
    theirs = cifarnets.resnet56().eval()  # the packaged DEFAULT is akamaster's resnet56
    data = canonical_bytes(theirs.state_dict(), {"arch": "resnet56"})
    path = tmp_path / "mine.safetensors"
    path.write_bytes(data)
    if key == "file":
        where = str(path)
    elif key == "url":
        where = _serve(tmp_path, path)
    else:
        fake_hub.add_commit("someone/resnet56", {"model.safetensors": data})
        where = "someone/resnet56"
    model = timm.create_model(
        "cifar_resnet56",
        pretrained=True,
        pretrained_cfg_overlay={key: where},
        cache_dir=tmp_path / "c",
    )
    assert _same_net(model, theirs)
    assert model.pretrained_weights.sha256 == cifarnets.hub.sha256_of(path)


def test_hf_hub_door_loads_the_repos_file(weights_dir, fake_hub, tmp_path):
    folder, theirs = _published_folder(tmp_path, weights_dir)
    fake_hub.add_commit("someone/c100-resnet20", {p.name: p.read_bytes() for p in folder.iterdir()})
    model = timm.create_model("hf-hub:someone/c100-resnet20", pretrained=True)
    assert model.num_classes == 100 and _same_net(model, theirs)


def test_checkpoint_path_door_loads_the_users_file(tmp_path):
    torch.manual_seed(9)
    theirs = cifarnets.resnet20().eval()
    path = tmp_path / "ckpt.pth"
    torch.save(theirs.state_dict(), path)
    model = timm.create_model("cifar_resnet20", pretrained=True, checkpoint_path=str(path))
    assert _same_net(model, theirs)
    assert getattr(model, "pretrained_weights", None) is None  # no longer the packaged one
    assert model.pretrained_cfg.get("tag") is None


def test_a_named_pickle_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "mine.pth"
    torch.save(cifarnets.resnet20().state_dict(), path)
    with pytest.raises(cifarnets.WeightsError, match=r"safetensors only .*save_file"):
        timm.create_model(
            "cifar_resnet20", pretrained=True, pretrained_cfg_overlay={"file": str(path)}
        )


def _serve(tmp_path, path) -> str:
    """``path`` over HTTP on localhost, for the ``url`` door; the server stops at exit."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(path.parent))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}/{path.name}"


def test_overlay_state_dict_and_timms_order(tmp_path):
    torch.manual_seed(13)
    theirs = cifarnets.resnet20().eval()
    model = timm.create_model(
        "cifar_resnet20",
        pretrained=True,
        pretrained_cfg_overlay={"state_dict": theirs.state_dict()},
    )
    assert _same_net(model, theirs) and "state_dict" not in model.pretrained_cfg
    # timm's order: a state_dict before a file, a file before a url.
    path = tmp_path / "other.safetensors"
    from cifarnets._safetensors import canonical_bytes

    torch.manual_seed(14)
    other = cifarnets.resnet20().eval()
    path.write_bytes(canonical_bytes(other.state_dict(), {"arch": "resnet20"}))
    model = timm.create_model(
        "cifar_resnet20",
        pretrained=True,
        pretrained_cfg_overlay={"file": str(path), "url": "http://127.0.0.1:9/never.safetensors"},
    )
    assert _same_net(model, other)


def test_overlay_file_takes_its_head_from_the_file(tmp_path):
    from cifarnets._safetensors import canonical_bytes

    torch.manual_seed(15)
    theirs = cifarnets.resnet20(num_classes=100).eval()
    path = tmp_path / "c100.safetensors"
    path.write_bytes(canonical_bytes(theirs.state_dict(), {"arch": "resnet20"}))
    model = timm.create_model(
        "cifar_resnet20", pretrained=True, pretrained_cfg_overlay={"file": str(path)}
    )
    assert model.num_classes == 100 and _same_net(model, theirs)


def test_two_urls_with_the_same_file_name_are_two_files(tmp_path):
    from cifarnets._safetensors import canonical_bytes

    nets = []
    for i, folder in enumerate(("a", "b")):
        torch.manual_seed(20 + i)
        net = cifarnets.resnet20().eval()
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "model.safetensors").write_bytes(
            canonical_bytes(net.state_dict(), {"arch": "resnet20"})
        )
        nets.append(net)
    for net, folder in zip(nets, ("a", "b"), strict=True):
        url = _serve(tmp_path / folder, tmp_path / folder / "model.safetensors")
        model = timm.create_model(
            "cifar_resnet20",
            pretrained=True,
            pretrained_cfg_overlay={"url": url},
            cache_dir=tmp_path / "cache",
        )
        assert _same_net(model, net)


def test_hf_hub_door_with_a_revision(weights_dir, fake_hub, tmp_path):
    folder, theirs = _published_folder(tmp_path, weights_dir)
    fake_hub.add_commit("someone/c100-resnet20", {p.name: p.read_bytes() for p in folder.iterdir()})
    model = timm.create_model("hf-hub:someone/c100-resnet20@main", pretrained=True)
    assert model.num_classes == 100 and _same_net(model, theirs)
