"""The training engine (see ``engine.py`` for the loop, ``executors.py`` for the step).

>>> from cifarnets.training import RunSpec, Runtime, train, get_recipe
>>> results = train([RunSpec("resnet20"), RunSpec("plain20")], data_root="~/data",
...                 out_dir="runs/reproduce", runtime=Runtime(max_minutes=60))

* :class:`Recipe`: how a net is trained (data; ``RECIPES["report"]`` is the default);
* :class:`RunSpec`: a run's identity (net, data set, recipe, seed), its folder's name;
* :class:`Runtime`: device, precision, step executor, threads, time budget: free to
  change between chunks;
* :func:`train`: one chunk of any number of runs; :class:`RunResult`: what a run made,
  with a :class:`ChunkRecord` per chunk;
* every step executor but eager is checked against the eager step before it trains, and
  falls back when it fails (``check.py``); :class:`ExecutorCheckError` when it was
  asked for by name.
"""

from .check import ExecutorCheckError
from .engine import environment, hardware_name, train
from .executors import EXECUTORS, StepExecutor, register_executor
from .loader import DeviceData, augment, epoch_generator
from .recipe import RECIPES, Recipe, get_recipe
from .records import ChunkRecord, ExecutorFallback
from .results import RunResult, read_result
from .run import TrainingRun
from .spec import RunSpec, Runtime, resolve_device

__all__ = [
    "EXECUTORS",
    "RECIPES",
    "ChunkRecord",
    "DeviceData",
    "ExecutorCheckError",
    "ExecutorFallback",
    "Recipe",
    "RunResult",
    "RunSpec",
    "Runtime",
    "StepExecutor",
    "TrainingRun",
    "augment",
    "environment",
    "epoch_generator",
    "get_recipe",
    "hardware_name",
    "read_result",
    "register_executor",
    "resolve_device",
    "train",
]
