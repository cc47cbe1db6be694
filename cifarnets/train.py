"""The training engine: the report's recipe, fast on a GPU, identical in spirit on a CPU.

Why it is fast (these nets are tiny, so an ordinary PyTorch loop is launch-bound: the
GPU waits for the CPU to issue kernels; see ``../shared/device/README.md``):

* the data set lives on the device as uint8 (4x less memory traffic than float32) and
  is augmented there, a whole epoch at a time (pad-4 random crop + horizontal flip);
* the whole training step (normalise, forward, loss, backward, SGD) is captured once
  in a CUDA graph and replayed: one launch per step instead of hundreds;
* bf16 autocast and channels_last;
* no host syncs inside an epoch (losses and error counts accumulate on the device);
* several runs (nets or seeds) train at once, each graph on its own CUDA stream, so
  small nets share the GPU instead of leaving it idle.

On a CPU (or with ``cuda_graph=False``) the same step runs eagerly: the same code, the
same recipe, the same outputs. Checkpoints are written atomically every few epochs and
a killed run resumes where it stopped, ending with the same weights.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import save as safetensors_bytes
from tqdm.auto import tqdm

from ._registry import get_model, model_info
from .data import DataError, get_dataset_spec, load_split, normalize
from .evaluate import count_correct

__all__ = ["TrainConfig", "train"]

# A training loss above this (cross-entropy of 10 classes starts at ln 10 = 2.3) or a
# non-finite one means the run has diverged; it is stopped rather than left to waste time.
DIVERGED_LOSS = 1e3


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of one training run; saved as ``config.json`` next to its results.

    The defaults are the seed report's recipe (bearpaw/pytorch-classification):
    SGD momentum 0.9, batch 128, 164 epochs, lr 0.1 divided by 10 at epochs 81 and 122,
    weight decay 1e-4, pad-4 crop + flip, kaiming-normal init (in the nets).
    """

    model: str = "resnet20"
    dataset: str = "cifar10"
    seed: int = 0
    epochs: int = 164
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    milestones: tuple[int, ...] = (81, 122)
    gamma: float = 0.1
    # He et al. 2015, sec. 4.2, for ResNet-110: "we use 0.01 to warm up the training
    # until the training error is below 80% (about 400 iterations), and then go back
    # to 0.1". The error is that of the last `warmup_check_every` steps.
    warmup: bool = False
    warmup_lr: float = 0.01
    warmup_until_error: float = 80.0
    warmup_check_every: int = 20
    pad: int = 4
    flip: bool = True
    train_subset: int | None = None  # first N training images (smoke tests)
    test_subset: int | None = None  # first N test images
    precision: str = "auto"  # "bf16" autocast, "fp32", or "auto": bf16 on CUDA, fp32 on CPU
    channels_last: bool = True
    cuda_graph: bool = True  # capture the whole step in a CUDA graph (CUDA only)
    checkpoint_every: int = 5  # epochs

    def __post_init__(self) -> None:
        model_info(self.model)  # UnknownModelError with the valid names
        get_dataset_spec(self.dataset)
        if self.precision not in ("auto", "bf16", "fp32"):
            raise ValueError(f"precision must be 'auto', 'bf16' or 'fp32', got {self.precision!r}")
        for name in ("epochs", "batch_size", "checkpoint_every", "warmup_check_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if list(self.milestones) != sorted(self.milestones):
            raise ValueError(f"milestones must be increasing, got {self.milestones}")
        object.__setattr__(self, "milestones", tuple(self.milestones))

    @property
    def name(self) -> str:
        """The run's directory name."""
        return f"{self.model}-{self.dataset}-s{self.seed}"

    def lr_at(self, epoch: int) -> float:
        """The scheduled learning rate of 0-based ``epoch`` (torch's MultiStepLR)."""
        # Rounded so that logs read 0.01, not 0.010000000000000002.
        return round(self.lr * self.gamma ** sum(epoch >= m for m in self.milestones), 12)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return cls(**{**data, "milestones": tuple(data["milestones"])})


# -- data on the device ------------------------------------------------------------------

@dataclass
class _Split:
    images: torch.Tensor  # uint8 (N, 3, 32, 32), on the training device
    labels: torch.Tensor  # int64 (N,)


def _augment(
    images: torch.Tensor, pad: int, flip: bool, generator: torch.Generator
) -> torch.Tensor:
    """Random ``pad``-pixel-padded crop and horizontal flip of every image, on its device.

    Zero padding of the raw uint8 images, as torchvision's RandomCrop(32, padding=4)
    before Normalize.
    """
    n, _, h, w = images.shape
    device = images.device
    if pad:
        padded = F.pad(images, (pad, pad, pad, pad))
        dy = torch.randint(0, 2 * pad + 1, (n, 1), device=device, generator=generator)
        dx = torch.randint(0, 2 * pad + 1, (n, 1), device=device, generator=generator)
        rows = (dy + torch.arange(h, device=device))[:, None, :, None]  # (N, 1, H, 1)
        cols = (dx + torch.arange(w, device=device))[:, None, None, :]  # (N, 1, 1, W)
        batch = torch.arange(n, device=device)[:, None, None, None]
        channel = torch.arange(images.shape[1], device=device)[None, :, None, None]
        images = padded[batch, channel, rows, cols]
    if flip:
        flipped = torch.rand(n, device=device, generator=generator) < 0.5
        images = torch.where(flipped[:, None, None, None], images.flip(3), images)
    return images


# -- one run -----------------------------------------------------------------------------

class _Run:
    """The state of one training run on one device: net, optimizer, graphs, logs."""

    def __init__(self, config: TrainConfig, train_split: _Split, test_split: _Split,
                 device: torch.device, out_dir: Path) -> None:
        self.config = config
        self.device = device
        self.dir = out_dir / config.name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dataset = get_dataset_spec(config.dataset)
        self.train = train_split
        self.test = test_split
        self.use_graph = config.cuda_graph and device.type == "cuda"
        precision = config.precision
        if precision == "auto":
            precision = "bf16" if device.type == "cuda" else "fp32"
        self.autocast_dtype = torch.bfloat16 if precision == "bf16" else None
        self.memory_format = (torch.channels_last if config.channels_last
                              else torch.contiguous_format)

        torch.manual_seed(config.seed)  # the nets' kaiming init
        self.model = get_model(config.model, num_classes=self.dataset.num_classes)
        self.model.to(device, memory_format=self.memory_format).train()
        self.optimizer = torch.optim.SGD(
            self.model.parameters(), lr=config.lr, momentum=config.momentum,
            weight_decay=config.weight_decay,
        )
        # Shuffling and augmentation draw only from this generator, whose state is
        # checkpointed: a resumed run sees exactly the batches the killed one would have.
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(config.seed)
        self.stream = torch.cuda.Stream(device) if device.type == "cuda" else None

        n = len(self.train.images)
        self.steps_per_epoch = math.ceil(n / config.batch_size)
        self.batch_sizes = sorted({config.batch_size if n >= config.batch_size else n,
                                   n - (self.steps_per_epoch - 1) * config.batch_size})
        # Accumulated on the device over an epoch; read once at its end.
        self.loss_sum = torch.zeros((), device=device)
        self.correct = torch.zeros((), dtype=torch.int64, device=device)
        self.static: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.graphs: dict[int, torch.cuda.CUDAGraph] = {}
        self.graph_lr: float | None = None

        self.epoch = 0  # completed epochs
        self.history: list[dict[str, float]] = []
        self.elapsed_s = 0.0
        self.in_warmup = config.warmup
        self.warmup_end_step: int | None = None
        self.status = "running"
        self.message = ""

    # -- the step ---------------------------------------------------------------------

    def _step(self, images_u8: torch.Tensor, labels: torch.Tensor) -> None:
        """One SGD step; eager, or the body of a CUDA graph capture."""
        x = normalize(images_u8, self.dataset.mean, self.dataset.std)
        x = x.contiguous(memory_format=self.memory_format)
        # No autocast weight cache: its casts would be freed when the context exits,
        # under a graph that still reads them (PyTorch's CUDA graphs notes).
        with torch.autocast(self.device.type, dtype=self.autocast_dtype or torch.float32,
                            enabled=self.autocast_dtype is not None, cache_enabled=False):
            logits = self.model(x)
        loss = F.cross_entropy(logits.float(), labels)
        loss.backward()
        self.optimizer.step()
        with torch.no_grad():
            self.loss_sum.add_(loss.detach() * len(labels))
            self.correct.add_((logits.argmax(1) == labels).sum())

    def _set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def _capture(self) -> None:
        """Capture one graph per batch size. The lr is a float baked into the graph
        (torch.optim.SGD reads it on the host), so a new lr means a new capture: three
        times in the report's schedule."""
        lr = self.optimizer.param_groups[0]["lr"]
        if self.graph_lr == lr:
            return
        if not self.static:
            self._warm_up_for_capture()
        self.graphs.clear()
        for size, (x, y) in self.static.items():
            self.optimizer.zero_grad(set_to_none=True)  # backward then *writes* the grads
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, stream=self.stream):
                self._step(x, y)
            self.graphs[size] = graph
        self.graph_lr = lr

    def _warm_up_for_capture(self) -> None:
        """Run each step shape eagerly a few times (cuDNN autotuning, lazy init, momentum
        buffers) before capture, then undo every effect so that training is unchanged."""
        saved = {k: v.clone() for k, v in self.model.state_dict().items()}
        saved_buffers = {p: s["momentum_buffer"].clone() for p, s in self.optimizer.state.items()
                         if s.get("momentum_buffer") is not None}  # a resumed run has them
        for size in self.batch_sizes:
            self.static[size] = (
                self.train.images[:size].clone(), self.train.labels[:size].clone()
            )
        self.stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(self.stream):
            for _ in range(3):
                for x, y in self.static.values():
                    self.optimizer.zero_grad(set_to_none=True)
                    self._step(x, y)
            with torch.no_grad():
                for key, value in self.model.state_dict().items():
                    value.copy_(saved[key])
                for param, state in self.optimizer.state.items():
                    if param in saved_buffers:
                        state["momentum_buffer"].copy_(saved_buffers[param])
                    else:  # a zero buffer makes SGD's next update that of a first step
                        state["momentum_buffer"].zero_()
                self.loss_sum.zero_()
                self.correct.zero_()
        torch.cuda.current_stream(self.device).wait_stream(self.stream)

    # -- epochs -----------------------------------------------------------------------

    def begin_epoch(self) -> None:
        self.epoch_start = time.perf_counter()
        cfg = self.config
        self._set_lr(cfg.warmup_lr if self.in_warmup else cfg.lr_at(self.epoch))
        self.warmup_window = (0, 0)  # (correct, seen) at the last warm-up check
        self.model.train()  # before any capture: the last epoch ended in eval mode
        if self.stream is not None:  # set-up and resume ran on the default stream
            self.stream.wait_stream(torch.cuda.current_stream(self.device))
        with self._on_stream():
            if self.use_graph:
                self._capture()
            self.loss_sum.zero_()
            self.correct.zero_()
            order = torch.randperm(len(self.train.images), device=self.device,
                                   generator=self.generator)
            self.epoch_images = _augment(self.train.images[order], cfg.pad, cfg.flip,
                                         self.generator)
            self.epoch_labels = self.train.labels[order]

    def step(self, index: int) -> None:
        start = index * self.config.batch_size
        x = self.epoch_images[start:start + self.config.batch_size]
        y = self.epoch_labels[start:start + self.config.batch_size]
        with self._on_stream():
            if self.use_graph:
                static_x, static_y = self.static[len(y)]
                static_x.copy_(x)
                static_y.copy_(y)
                self.graphs[len(y)].replay()
            else:
                self.optimizer.zero_grad(set_to_none=True)
                self._step(x, y)

    def check_warmup(self, steps_done: int) -> None:
        """Leave the warm-up once the error of the last window of steps is below the bar.

        Reads one number from the device (a sync of this run's stream), only while
        warming up.
        """
        with self._on_stream():  # the read must queue behind this run's steps
            correct = int(self.correct)
        seen = min(steps_done * self.config.batch_size, len(self.train.images))
        last_correct, last_seen = self.warmup_window
        error = 100.0 * (1 - (correct - last_correct) / max(seen - last_seen, 1))
        self.warmup_window = (correct, seen)
        if error < self.config.warmup_until_error:
            self.in_warmup = False
            self.warmup_end_step = self.epoch * self.steps_per_epoch + steps_done
            self._set_lr(self.config.lr_at(self.epoch))
            if self.use_graph:
                with self._on_stream():
                    self._capture()

    def end_epoch_async(self) -> None:
        """Queue the test-set evaluation; nothing here waits for the device."""
        with self._on_stream():
            self.test_correct = count_correct(
                self.model, self.test.images, self.test.labels, mean=self.dataset.mean,
                std=self.dataset.std, batch_size=1000, device=self.device,
                autocast_dtype=self.autocast_dtype, memory_format=self.memory_format,
            )

    def finish_epoch(self) -> dict[str, float]:
        """Read the epoch's numbers (the device must be synchronised), log, checkpoint."""
        n_train, n_test = len(self.train.images), len(self.test.images)
        train_loss = float(self.loss_sum) / n_train
        record = {
            "epoch": self.epoch + 1,
            "lr": self.optimizer.param_groups[0]["lr"],
            "train_loss": train_loss,
            "train_error": 100.0 * (1 - int(self.correct) / n_train),
            "test_error": 100.0 * (1 - int(self.test_correct) / n_test),
            "epoch_time_s": time.perf_counter() - self.epoch_start,
        }
        self.elapsed_s += record["epoch_time_s"]
        record["elapsed_s"] = self.elapsed_s
        self.history.append(record)
        self.epoch += 1
        self._write_log()
        if not math.isfinite(train_loss) or train_loss > DIVERGED_LOSS:
            self.status = "diverged"
            self.message = (
                f"{self.config.name} diverged in epoch {self.epoch}: training loss "
                f"{train_loss:.4g}. Lower --lr, or use the paper's warm-up (--warmup), which "
                f"He et al. needed for ResNet-110. Last good checkpoint: {self.checkpoint_path}"
            )
        elif self.epoch == self.config.epochs:
            self.status = "finished"
        elif self.epoch % self.config.checkpoint_every == 0:
            self.save_checkpoint()
        return record

    def _on_stream(self):
        return torch.cuda.stream(self.stream) if self.stream is not None else nullcontext()

    # -- files ------------------------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path:
        return self.dir / "checkpoint.pt"

    def save_checkpoint(self) -> None:
        state = {
            "config": self.config.to_dict(),
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "history": self.history,
            "elapsed_s": self.elapsed_s,
            "in_warmup": self.in_warmup,
            "warmup_end_step": self.warmup_end_step,
        }
        _atomic_write(self.checkpoint_path, lambda f: torch.save(state, f))

    def try_resume(self) -> bool:
        """Continue from ``checkpoint.pt`` if there is one; refuse a different config."""
        if not self.checkpoint_path.is_file():
            return False
        state = torch.load(self.checkpoint_path, map_location=self.device, weights_only=True)
        if state["config"] != self.config.to_dict():
            diff = {k: (v, state["config"].get(k)) for k, v in self.config.to_dict().items()
                    if state["config"].get(k) != v}
            raise ValueError(
                f"{self.checkpoint_path} is a checkpoint of a different config "
                f"(now vs checkpoint: {diff}). Use another output directory, or delete it "
                f"to start over."
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"].cpu())
        self.epoch = state["epoch"]
        self.history = state["history"]
        self.elapsed_s = state["elapsed_s"]
        self.in_warmup = state["in_warmup"]
        self.warmup_end_step = state["warmup_end_step"]
        return True

    def _write_log(self) -> None:
        text = _csv_text(list(self.history[0]), self.history)
        _atomic_write(self.dir / "log.csv", lambda f: f.write(text.encode()))

    def write_results(self, env: dict[str, Any]) -> dict[str, Any]:
        """``weights.safetensors``, ``config.json`` and ``summary.json`` of a run."""
        last = self.history[-1] if self.history else {}
        summary = {
            "name": self.config.name,
            "model": self.config.model,
            "dataset": self.config.dataset,
            "seed": self.config.seed,
            "status": self.status,
            "message": self.message,
            "epochs": self.epoch,
            "final_test_error": last.get("test_error"),
            "final_train_error": last.get("train_error"),
            "final_train_loss": last.get("train_loss"),
            "time_s": round(self.elapsed_s, 2),
            "warmup_end_step": self.warmup_end_step,
            "precision": "bf16" if self.autocast_dtype else "fp32",
            "cuda_graph": self.use_graph,
            **env,
            "config": self.config.to_dict(),
            "history": self.history,
        }
        if self.status == "finished":
            weights = {k: v.detach().to("cpu", memory_format=torch.contiguous_format)
                       .contiguous() for k, v in self.model.state_dict().items()}
            meta = {"arch": self.config.model, "dataset": self.config.dataset,
                    "num_classes": str(self.dataset.num_classes),
                    "mean": json.dumps(self.dataset.mean), "std": json.dumps(self.dataset.std)}
            _atomic_write(self.dir / "weights.safetensors",
                          lambda f: f.write(safetensors_bytes(weights, metadata=meta)))
        _atomic_write(self.dir / "config.json",
                      lambda f: f.write(json.dumps(self.config.to_dict(), indent=2).encode()))
        _atomic_write(self.dir / "summary.json",
                      lambda f: f.write(json.dumps(summary, indent=2).encode()))
        if self.status == "finished":
            self.checkpoint_path.unlink(missing_ok=True)
        return summary


def _csv_text(fields: list[str], rows: list[dict[str, float]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _atomic_write(path: Path, write) -> None:
    """Write via a temporary file and rename: a kill never leaves a torn file."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# -- the driver ---------------------------------------------------------------------------

def environment(device: torch.device, command: str | None = None) -> dict[str, Any]:
    """What produced a result: versions, hardware, code revision, command."""
    commit = None
    with suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip() or None
    hardware = (torch.cuda.get_device_name(device) if device.type == "cuda"
                else f"CPU ({platform.processor() or platform.machine()}, "
                     f"{torch.get_num_threads()} threads)")
    return {
        "device": str(device),
        "hardware": hardware,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "commit": commit,
        "command": command or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }


def _load_data(config: TrainConfig, data_root: Path, device: torch.device,
               cache: dict) -> tuple[_Split, _Split]:
    key = config.dataset
    if key not in cache:
        train_images, train_labels = load_split(config.dataset, data_root, train=True)
        test_images, test_labels = load_split(config.dataset, data_root, train=False)
        spec = get_dataset_spec(config.dataset)
        found = int(train_labels.max()) + 1
        if found != spec.num_classes:
            raise DataError(f"{data_root} gave {found} classes for {spec.name}, "
                            f"expected {spec.num_classes}: wrong data set?")
        cache[key] = (_Split(train_images.to(device), train_labels.to(device)),
                      _Split(test_images.to(device), test_labels.to(device)))
    train_split, test_split = cache[key]
    if config.train_subset is not None:
        train_split = _Split(train_split.images[:config.train_subset],
                             train_split.labels[:config.train_subset])
    if config.test_subset is not None:
        test_split = _Split(test_split.images[:config.test_subset],
                            test_split.labels[:config.test_subset])
    return train_split, test_split


def train(
    configs: TrainConfig | Sequence[TrainConfig],
    *,
    data_root: str | Path,
    out_dir: str | Path,
    device: str | torch.device | None = None,
    progress: bool = True,
    command: str | None = None,
    stop_after_epochs: int | None = None,
) -> list[dict[str, Any]]:
    """Train one or several runs side by side on one device; return their summaries.

    Each run writes ``out_dir/<model>-<dataset>-s<seed>/``: ``log.csv`` (per epoch),
    ``checkpoint.pt`` (every ``checkpoint_every`` epochs, atomically), and at the end
    ``weights.safetensors``, ``config.json`` and ``summary.json``. A run whose
    ``summary.json`` says finished is not trained again; one with a checkpoint resumes.
    ``stop_after_epochs`` ends the call early (as a kill would, after a checkpoint).
    """
    configs = [configs] if isinstance(configs, TrainConfig) else list(configs)
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ValueError(f"two runs share a name (model-dataset-seed): {names}")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    out_dir = Path(out_dir)
    env = environment(device, command)

    summaries: dict[str, dict[str, Any]] = {}
    runs: list[_Run] = []
    data_cache: dict = {}
    for config in configs:
        done = out_dir / config.name / "summary.json"
        if done.is_file():
            summary = json.loads(done.read_text())
            if summary.get("status") == "finished" and summary.get("config") == config.to_dict():
                summaries[config.name] = summary
                continue
        # Data problems surface here, before any training starts.
        train_split, test_split = _load_data(config, Path(data_root), device, data_cache)
        run = _Run(config, train_split, test_split, device, out_dir)
        run.try_resume()
        runs.append(run)

    active = [r for r in runs if r.epoch < r.config.epochs]
    total_epochs = max((r.config.epochs for r in active), default=0)
    first_epoch = min((r.epoch for r in active), default=0)
    bar = tqdm(total=total_epochs, initial=first_epoch, disable=not progress or not active,
               desc=", ".join(r.config.name for r in active)[:60], unit="epoch")
    epochs_this_call = 0
    while active:
        for run in active:
            run.begin_epoch()
        for step in range(max(r.steps_per_epoch for r in active)):
            for run in active:
                if step >= run.steps_per_epoch:
                    continue
                run.step(step)
                if run.in_warmup and (step + 1) % run.config.warmup_check_every == 0:
                    run.check_warmup(step + 1)
        for run in active:
            run.end_epoch_async()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        for run in active:
            record = run.finish_epoch()
            bar.set_postfix_str(f"{run.config.model} test {record['test_error']:.2f}%")
        bar.update(1)
        epochs_this_call += 1
        for run in [r for r in active if r.status != "running"]:
            summaries[run.config.name] = run.write_results(env)
            active.remove(run)
            line = (f"{run.config.name}: {run.status} after {run.epoch} epochs, final test "
                    f"error {run.history[-1]['test_error']:.2f} %, {run.elapsed_s:.1f} s")
            tqdm.write(line if run.status == "finished" else f"{line}\n{run.message}")
        if stop_after_epochs is not None and epochs_this_call >= stop_after_epochs:
            for run in active:
                run.save_checkpoint()
            break
    bar.close()
    return [summaries[n] for n in names if n in summaries]
