"""Publishing: `publish add` never loses or misstates a published weight, and `publish
hub` ends every Hub fault in a clear error (against a local FakeHub)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import make_weights

import cifarnets
from cifarnets import publish
from cifarnets.cli import main as cli_main
from cifarnets.publish import model_card
from cifarnets.training import RunSpec, Runtime, get_recipe, train


@pytest.fixture(scope="module")
def finished_runs(cifar10_root, tmp_path_factory) -> list[Path]:
    """Finished 1-epoch runs on 256 images (check runs, not a full recipe): seeds 0 and 1
    of one run, and seed 2 of another (a smaller test subset)."""
    recipe = get_recipe("smoke").with_changes(epochs=1, milestones=(), batch_size=64)
    specs = [
        RunSpec("resnet20", recipe=recipe, seed=seed, train_subset=256, test_subset=n)
        for seed, n in ((0, 128), (1, 128), (2, 64))
    ]
    out = tmp_path_factory.mktemp("runs")
    train(
        specs,
        data_root=cifar10_root,
        out_dir=out,
        command="made here",
        runtime=Runtime(progress=False, executor="eager", precision="fp32"),
    )
    return [out / spec.name for spec in specs]


@pytest.fixture
def finished_run(finished_runs) -> Path:
    return finished_runs[0]


@pytest.fixture
def seeds(finished_runs) -> list[Path]:
    """Two seeds of the same run."""
    return finished_runs[:2]


@pytest.fixture
def measured(monkeypatch):
    """Stands in for the fp32 full-test-set evaluation (a minute on a CPU; the slow test
    in test_weights.py runs the real one); records the files it was asked to measure."""
    calls = []

    def fake_measure(arch, file, *args):
        calls.append(Path(file))
        return 12.5 + len(calls), 10_000

    monkeypatch.setattr(publish, "_measure", fake_measure)
    return calls


def add(run: Path, tag: str, data: Path, *extra: str) -> int:
    return cli_main(
        ["publish", "add", str(run), "--tag", tag, "--data", str(data), "--allow-partial", *extra]
    )


def test_a_published_tag_is_replaced_only_with_replace(
    weights_dir, finished_run, cifar10_root, measured, capsys
):
    assert add(finished_run, "t_v1", cifar10_root) == 0
    first = cifarnets.get_weights("resnet20.t_v1")
    publish.pin_revision(first, "a" * 40)  # as `publish hub` does after an upload
    manifest = (weights_dir / "manifest.json").read_bytes()
    capsys.readouterr()
    measured.clear()

    assert add(finished_run, "t_v1", cifar10_root) == 2
    err = capsys.readouterr().err
    assert f"resnet20.t_v1 (sha256 {first.sha256[:12]}" in err
    assert f"pinned to Hub commit {'a' * 40}" in err and "--replace" in err
    assert (weights_dir / "manifest.json").read_bytes() == manifest, "nothing was changed"
    assert measured == [], "refused before the long evaluation"

    assert add(finished_run, "t_v1", cifar10_root, "--replace") == 0
    assert f"replaced resnet20.t_v1 (sha256 {first.sha256[:12]}" in capsys.readouterr().out
    assert cifarnets.get_weights("resnet20.t_v1").hub_revision is None  # to be uploaded again


def test_a_check_run_never_takes_the_default_from_a_real_weight(
    weights_dir, finished_run, cifar10_root, measured
):
    make_weights()  # resnet20.test_v1, a complete weight, the DEFAULT
    assert add(finished_run, "t_v1", cifar10_root) == 0
    assert cifarnets.get_weights("resnet20.t_v1").partial
    assert cifarnets.resnet20(pretrained=True).pretrained_weights.tag == "test_v1"


def test_publish_add_creates_the_manifest_of_an_empty_private_folder(
    finished_run, cifar10_root, measured, tmp_path, monkeypatch
):
    folder = tmp_path / "mine"
    monkeypatch.setenv("CIFARNETS_PRETRAINED_DIR", str(folder))  # undone after the test
    assert add(finished_run, "t_v1", cifar10_root, "--folder", str(folder)) == 0
    assert (folder / "manifest.json").is_file()
    weights = cifarnets.get_weights("resnet20.t_v1")
    assert (folder / weights.filename).read_bytes() == (
        finished_run / "weights.safetensors"
    ).read_bytes()


def test_publish_add_checks_everything_before_the_evaluation(
    weights_dir, finished_runs, finished_run, cifar10_root, measured, tmp_path, capsys
):
    # A check run without --allow-partial.
    assert (
        cli_main(
            ["publish", "add", str(finished_run), "--tag", "t_v1", "--data", str(cifar10_root)]
        )
        == 2
    )
    assert "--allow-partial" in capsys.readouterr().err
    # A Hub repo id the Hub would refuse, only at `publish hub` time.
    assert add(finished_run, "t_v1", cifar10_root, "--org", "not/an org") == 2
    assert "--org" in capsys.readouterr().err
    # A tag that is not a word.
    assert add(finished_run, "t v1", cifar10_root) == 2
    assert "tag" in capsys.readouterr().err
    # Runs that are not seeds of one experiment (another test subset).
    assert (
        cli_main(
            [
                "publish",
                "add",
                str(finished_runs[0]),
                str(finished_runs[2]),
                "--tag",
                "t_v1",
                "--data",
                str(cifar10_root),
                "--allow-partial",
            ]
        )
        == 2
    )
    assert "must be seeds of the same run" in capsys.readouterr().err
    # A broken manifest.
    (weights_dir / "manifest.json").write_text("{not json")
    assert add(finished_run, "t_v1", cifar10_root) == 2
    assert "cannot read the weights manifest" in capsys.readouterr().err
    # A folder that cannot be written.
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert add(finished_run, "t_v1", cifar10_root, "--folder", str(blocked / "sub")) == 2
    assert "cannot write to the weights folder" in capsys.readouterr().err
    assert measured == []


def test_every_published_number_says_what_it_was_measured_on(
    weights_dir, seeds, cifar10_root, measured
):
    assert (
        cli_main(
            [
                "publish",
                "add",
                *map(str, seeds),
                "--tag",
                "t_v1",
                "--data",
                str(cifar10_root),
                "--allow-partial",
            ]
        )
        == 0
    )
    metrics = cifarnets.get_weights("resnet20.t_v1").metrics
    # Each seed's own file, measured like the published one (full test set, fp32).
    assert measured == [d / "weights.safetensors" for d in seeds]
    assert metrics["test_error_per_seed"] == [13.5, 14.5] and metrics["test_images"] == 10_000
    for key in ("test_error", "test_error_per_seed", "test_error_during_training"):
        assert metrics[f"{key}_eval"], f"{key} does not say what it was measured on"
    assert "fp32 on cpu, the full cifar10 test set (10,000 images)" in metrics["test_error_eval"]
    during = metrics["test_error_during_training_eval"]
    assert "on 128 test images" in during and "fp32" in during and "bf16" not in during
    assert "meets_target" not in metrics  # a check run is not judged against the paper


def card_for(partial: bool, meets_target: bool | None) -> str:
    weights, _ = make_weights()
    metrics = {**weights.metrics, "test_error_eval": "fp32", "selection": "final epoch"}
    if meets_target is not None:
        metrics["meets_target"] = meets_target
    return model_card(
        cifarnets.Weights.from_dict({**weights.to_dict(), "metrics": metrics, "partial": partial})
    )


def test_the_model_card_says_reproduces_only_where_the_verdict_does(weights_dir):
    assert 'resnet20.test_v1 reproduces the row "ResNet-20"' in card_for(
        partial=False, meets_target=True
    )
    assert "does not reproduce" in card_for(partial=False, meets_target=False)
    for card in (
        card_for(partial=False, meets_target=None),
        card_for(partial=True, meets_target=None),
        card_for(partial=True, meets_target=True),
    ):  # a hand-edited manifest
        assert "reproduces the row" not in card
    assert "**Partial**" in card_for(partial=True, meets_target=True)


def _hub_card(weights_dir, tmp_path, capsys, **changes) -> Path:
    """README.md of resnet20.test_v1 (with ``changes``) as `publish hub --dry-run` writes it."""
    weights, _ = make_weights()
    _, defaults = publish.read_folder(weights_dir)
    changed = cifarnets.Weights.from_dict({**weights.to_dict(), **changes})
    publish.write_manifest(weights_dir, {changed.name: changed}, defaults)
    assert cli_main(["publish", "hub", "--out", str(tmp_path / "hub"), "--dry-run"]) == 0
    assert "[dry run] would upload" in capsys.readouterr().out
    return tmp_path / "hub" / "resnet20.test_v1" / "README.md"


def test_the_model_card_is_one_the_hub_understands(weights_dir, tmp_path, capsys):
    """The Hub's own parser reads the task, data set, license and the test accuracy as an
    evaluation result (model-index), as the Hub does to show it."""
    from huggingface_hub import ModelCard, metadata_load
    from huggingface_hub.repocard_data import model_index_to_eval_results

    readme = _hub_card(
        weights_dir,
        tmp_path,
        capsys,
        training={
            "time_s": 36718.3,
            "hardware": ["CPU X (compile, fp32)"],
            "chunks": 8,
            "epochs": 164,
            "torch": ["2.14.1"],
            "commit": "abc123",
        },
    )
    meta = metadata_load(readme)
    assert meta["pipeline_tag"] == "image-classification"
    assert meta["library_name"] == "timm" and meta["license"] == "mit"
    assert meta["datasets"] == ["uoft-cs/cifar10"] and meta["metrics"] == ["accuracy"]
    assert {"image-classification", "cifar10", "resnet", "timm"} <= set(meta["tags"])
    name, results = model_index_to_eval_results(meta["model-index"])
    assert name == "resnet20.test_v1" and len(results) == 1
    result = results[0]
    assert (
        result.task_type,
        result.dataset_type,
        result.dataset_name,
        result.dataset_split,
        result.metric_type,
    ) == ("image-classification", "uoft-cs/cifar10", "CIFAR-10", "test", "accuracy")
    assert result.metric_value == 87.66 and "(%)" in result.metric_name  # 100 - 12.34
    assert result.source_url is None  # the project's own measurement

    card = ModelCard.load(readme)
    assert card.data.eval_results == results and card.data.pipeline_tag == "image-classification"
    text = card.text
    assert "Test error **12.34 %** (accuracy 87.66 %)" in text
    assert "10.2 h of training" in text and "36718" not in text
    assert 'timm.create_model("hf-hub:cifarnets-test/resnet20.test_v1", pretrained=True)' in text
    assert 'cifarnets.resnet20(weights="test_v1")' in text and "He, Kaiming" in text


def test_a_ported_card_names_its_source_and_license():
    from huggingface_hub import ModelCard

    weights = cifarnets.get_weights("resnet56.cifar10_akamaster")  # the packaged port
    card = ModelCard(model_card(weights))
    assert card.data.license == "bsd-2-clause" and card.data.library_name == "timm"
    (result,) = card.data.eval_results
    assert result.metric_value == round(100 - weights.test_error, 2)
    assert result.source_url.startswith("https://github.com/akamaster/pytorch_resnet_cifar10")
    assert "akamaster" in result.source_name
    assert "Copyright (c) 2018, Yerlan Idelbayev" in card.text
    assert "best test error" in card.text  # the selection: not a final-epoch number
    assert "report" not in card.text  # nothing to say of the lab report
    # CIFAR-100 weights point at CIFAR-100.
    c100 = cifarnets.Weights.from_dict(
        {**weights.to_dict(), "dataset": "cifar100", "num_classes": 100}
    )
    card = ModelCard(model_card(c100))
    assert card.data.datasets == ["uoft-cs/cifar100"]
    assert card.data.eval_results[0].dataset_name == "CIFAR-100"


def test_the_model_card_names_the_lab_report_once_before_its_first_mention(weights_dir):
    own = card_for(partial=False, meets_target=True)
    weights = cifarnets.get_weights("resnet20.test_v1")
    bottleneck = model_card(
        cifarnets.Weights.from_dict(  # its summary names the report
            {**weights.to_dict(), "arch": "resnet83", "tag": "t_v1"}
        )
    )
    for card in (own, bottleneck):
        assert "seed" + " report" not in card
        assert card.count('"Lab1 - Deep Residual Learning"') == 1
        assert card.index("Lab1") < card.index("the lab report's")
        assert "course Deep Learning and Practice" in card and "resnet83 and resnet164" in card


def test_the_same_weights_and_metadata_give_the_same_file():
    """safetensors writes its metadata map in a random order (a new Rust hash seed for
    every map); published sha256s need the same bytes every time."""
    from safetensors.torch import load

    from cifarnets._safetensors import canonical_bytes

    meta = {key: key * 3 for key in "zyxwvutsrqponmlkjihgfedcba"}
    tensors = {"b": torch.arange(6.0).view(2, 3), "a": torch.ones(3, dtype=torch.int64)}
    # safetensors' own save gives several files here; the canonical one gives one.
    files = {canonical_bytes(tensors, dict(reversed(meta.items()))) for _ in range(4)}
    files |= {canonical_bytes(tensors, meta) for _ in range(4)}
    assert len(files) == 1
    assert torch.equal(load(files.pop())["b"], tensors["b"])


def test_publish_hub_rides_out_a_single_503(weights_dir, fake_hub, tmp_path, capsys):
    make_weights()
    fake_hub.fail_next(503)
    assert cli_main(["publish", "hub", "--out", str(tmp_path / "hub")]) == 0, (
        capsys.readouterr().err
    )
    assert cifarnets.get_weights("resnet20.test_v1").hub_revision is not None


def test_publish_hub_uploads_only_unpinned_weights_unless_named(
    weights_dir, fake_hub, tmp_path, capsys
):
    make_weights()
    out = str(tmp_path / "hub")
    assert cli_main(["publish", "hub", "--out", out]) == 0
    pinned = cifarnets.get_weights("resnet20.test_v1").hub_revision
    assert pinned and fake_hub.count("commit") == 1

    requests = fake_hub.count()
    assert cli_main(["publish", "hub", "--out", out]) == 0  # nothing new: no Hub call at all
    assert "skipped resnet20.test_v1: already pinned" in capsys.readouterr().out
    assert fake_hub.count() == requests

    # Named, it is uploaded again; the same bytes make no new commit and keep the pin.
    assert cli_main(["publish", "hub", "resnet20.test_v1", "--out", out]) == 0
    assert fake_hub.count() > requests and fake_hub.count("commit") == 1
    assert cifarnets.get_weights("resnet20.test_v1").hub_revision == pinned


def test_publish_hub_with_an_invalid_repo_id_says_how_to_fix_it(
    weights_dir, fake_hub, tmp_path, capsys
):
    weights, _ = make_weights()
    table, defaults = publish.read_folder(weights_dir)
    bad = cifarnets.Weights.from_dict({**weights.to_dict(), "hub_repo": "not a/valid//id"})
    publish.write_manifest(weights_dir, {bad.name: bad}, defaults)
    assert cli_main(["publish", "hub", "--out", str(tmp_path / "hub")]) == 2
    err = capsys.readouterr().err
    assert "invalid Hub repo id 'not a/valid//id'" in err and "Traceback" not in err


def test_publish_hub_with_the_hub_down_is_a_clear_error(weights_dir, fake_hub, tmp_path, capsys):
    make_weights()
    fake_hub.stop()
    # 3: the machine lacks the network (PublishUnreachableError), as for every command.
    assert cli_main(["publish", "hub", "--out", str(tmp_path / "hub")]) == 3
    err = capsys.readouterr().err
    assert "cannot upload resnet20.test_v1: cannot reach http://127.0.0.1" in err
    assert "nothing was pinned. Fix: connect" in err
    assert "Traceback" not in err
    assert cifarnets.get_weights("resnet20.test_v1").hub_revision is None


def test_what_the_hub_serves_leaves_the_package_and_loads_from_the_hub(
    weights_dir, fake_hub, tmp_path, capsys, monkeypatch
):
    """The wheel-size rule (README "Weights"): once pinned on the Hub, only the DEFAULT of
    a paper net up to 110 layers stays packaged; the rest loads from the Hub, and offline
    without a cached copy it fails at once with the fix."""
    from huggingface_hub import constants

    make_weights("resnet20", tag="cifar10_v1")
    make_weights("resnet20", tag="cifar10_v0", default=False, seed=1)
    make_weights("resnet83", tag="cifar10_v1", seed=2)
    assert {p.name for p in weights_dir.glob("*.safetensors")} == {
        "resnet20.cifar10_v1.safetensors",
        "resnet20.cifar10_v0.safetensors",
        "resnet83.cifar10_v1.safetensors",
    }  # nothing on the Hub yet: all of it ships
    # A private weights folder keeps its files unless asked (--prune): the rule is the
    # package's own.
    assert cli_main(["publish", "hub", "--out", str(tmp_path / "hub")]) == 0
    assert len(list(weights_dir.glob("*.safetensors"))) == 3
    assert cli_main(["publish", "hub", "--out", str(tmp_path / "hub"), "--prune"]) == 0
    out = capsys.readouterr().out
    assert "resnet20.cifar10_v0 leaves the package" in out
    assert "resnet83.cifar10_v1 leaves the package" in out
    assert {p.name for p in weights_dir.glob("*.safetensors")} == {
        "resnet20.cifar10_v1.safetensors"
    }
    for name in ("resnet20.cifar10_v1", "resnet20.cifar10_v0", "resnet83.cifar10_v1"):
        weights = cifarnets.get_weights(name)
        assert publish.ships_in_package(weights) == (name == "resnet20.cifar10_v1")
    # Offline with an empty cache: the Hub-only weight fails fast, with the fix.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(cifarnets.WeightsUnreachableError, match="load it once while online"):
        cifarnets.resnet83(pretrained=True)
    assert cifarnets.resnet20(pretrained=True).pretrained_weights.tag == "cifar10_v1"
    # Online, it downloads once; then offline uses the cached copy.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    online = cifarnets.resnet83(pretrained=True)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    cached = cifarnets.resnet83(pretrained=True)
    assert torch.equal(online.conv1.weight, cached.conv1.weight)


def test_a_new_default_lets_the_pinned_one_go_and_a_pinned_default_comes_back(
    weights_dir, fake_hub, tmp_path, capsys
):
    make_weights("resnet20", tag="cifar10_akamaster")  # the DEFAULT, pinned next
    assert cli_main(["publish", "hub", "--out", str(tmp_path / "hub")]) == 0
    assert (weights_dir / "resnet20.cifar10_akamaster.safetensors").is_file()  # DEFAULT
    table, defaults = publish.read_folder(weights_dir)
    # The project's own weights become DEFAULT: the pinned port leaves the package.
    own, _ = make_weights("resnet20", tag="cifar10_v1", seed=1)
    publish.sync_package(weights_dir)
    assert not (weights_dir / "resnet20.cifar10_akamaster.safetensors").exists()
    # Made DEFAULT again, it is fetched back from the Hub (verified).
    publish.write_manifest(weights_dir, publish.read_folder(weights_dir)[0], defaults)
    removed, added = publish.sync_package(weights_dir)
    assert added == ["resnet20.cifar10_akamaster"] and removed == []
    assert (
        cifarnets.hub.sha256_of(weights_dir / "resnet20.cifar10_akamaster.safetensors")
        == table["resnet20.cifar10_akamaster"].sha256
    )


def test_a_file_the_hub_does_not_serve_never_leaves_the_package(
    weights_dir, fake_hub, capsys, monkeypatch
):
    from huggingface_hub import constants

    own, _ = make_weights("resnet20", tag="cifar10_v1")
    other, _ = make_weights("resnet20", tag="cifar10_v0", default=False, seed=1)
    table, defaults = publish.read_folder(weights_dir)
    # Pinned in the manifest, but the Hub has no such repo (a hand edit, a private repo).
    pinned = cifarnets.Weights.from_dict({**other.to_dict(), "hub_revision": "0" * 40})
    publish.write_manifest(weights_dir, {**table, other.name: pinned}, defaults)
    assert publish.sync_package(weights_dir) == ([], [])
    assert "resnet20.cifar10_v0 stays in the package: the Hub does not serve it" in (
        capsys.readouterr().out
    )
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert publish.sync_package(weights_dir) == ([], [])
    assert "HF_HUB_OFFLINE is set" in capsys.readouterr().out
    assert (weights_dir / other.filename).is_file()
    assert cifarnets.resnet20(weights="cifar10_v0").pretrained_weights == pinned
