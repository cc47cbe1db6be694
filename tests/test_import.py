"""`import cifarnets` stays cheap: timm (and torchvision with it) load only when used.

Each check runs in a fresh interpreter, since the test process has imported everything.
"""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
from helpers import REPO

import cifarnets

HEAVY = ("timm", "torchvision", "huggingface_hub", "matplotlib")


def python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize(
    "code",
    [
        "import cifarnets",
        # What `cifarnets --help` runs, short of exiting.
        "from cifarnets.cli import build_parser; build_parser().format_help()",
    ],
)
def test_import_does_not_load_heavy_packages(code):
    out = python(f"import sys; {code}; print([m for m in {HEAVY!r} if m in sys.modules])")
    assert out.strip() == "[]", f"{code!r} imported {out.strip()}"


def test_submodules_load_on_first_use():
    out = python("""import sys, cifarnets
print("cifarnets.convert" in sys.modules, callable(cifarnets.convert.convert_akamaster))
try:
    cifarnets.no_such_thing
except AttributeError as err:
    print(err)
""")
    assert out.splitlines() == ["False True", "module 'cifarnets' has no attribute 'no_such_thing'"]


@pytest.mark.parametrize("imports", ["import cifarnets, timm", "import timm, cifarnets"])
def test_timm_sees_the_nets_in_either_import_order(imports):
    out = python(f"""{imports}
import sys
from cifarnets._timm_hook import _RegisterAfterTimmImport
model = timm.create_model("cifar_resnet20")
print(type(model).__name__, model.num_classes)
print(len(timm.list_models("cifar_*")), timm.list_pretrained("cifar_resnet56*"))
print(any(isinstance(f, _RegisterAfterTimmImport) for f in sys.meta_path))
""")
    created, listed, hook_left = out.splitlines()
    assert created == "CifarResNet 10"
    count, pretrained = listed.split(" ", 1)
    assert int(count) == len(cifarnets.list_models())
    assert "'cifar_resnet56.cifar10_akamaster'" in pretrained
    assert hook_left == "False", "the import hook removes itself once timm is imported"


def test_hubconf_lists_what_import_cifarnets_needs():
    tree = ast.parse((REPO / "hubconf.py").read_text())
    (dependencies,) = [
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and node.targets[0].id == "dependencies"
    ]
    out = python("""import sys
import torch
before = {m.split(".")[0] for m in sys.modules}
import cifarnets
print(sorted({m.split(".")[0] for m in sys.modules} - before - set(sys.stdlib_module_names)))
""")
    needed = set(ast.literal_eval(out)) - {"cifarnets"}
    assert needed <= set(dependencies), f"hubconf.dependencies lacks {needed - set(dependencies)}"
    assert "torch" in dependencies and "timm" not in dependencies


@pytest.mark.parametrize(
    "argv",
    [
        ["--version"],
        ["--help"],
        ["list"],
        ["info", "resnet56"],
        ["list", "--markdown"],
        ["info", "plain20", "--json"],
    ],
)
def test_the_quick_commands_answer_without_torch(argv):
    # `cifarnets list`/`info` read only the registry and the weights manifest (data);
    # torch would add seconds to every call (benchmarks/startup.py measures it).
    out = python(f"""import sys
from cifarnets.cli import main
try:
    main({argv!r})
except SystemExit as stop:  # --version and --help exit
    assert stop.code == 0, stop.code
print("HEAVY", [m for m in ("torch", *{HEAVY!r}) if m in sys.modules])
""")
    assert out.strip().splitlines()[-1] == "HEAVY []"


def test_import_cifarnets_does_not_import_torch_until_a_net_is_built():
    out = python("""import sys, cifarnets
print("torch" in sys.modules, cifarnets.model_info("resnet56").num_params)
print(cifarnets.default_weights("resnet20").name, "torch" in sys.modules)
model = cifarnets.resnet20()
print(type(model).__name__, "torch" in sys.modules, cifarnets.resnet20 is cifarnets.models.resnet20)
""")
    assert out.splitlines() == [
        "False 853018",
        "resnet20.cifar10_v1 False",
        "CifarResNet True True",
    ]
