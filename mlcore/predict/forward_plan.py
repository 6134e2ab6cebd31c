"""How a model's forward pass runs fastest here: batch size and memory format.

Which configuration is fastest depends on the device, the model and the
chip size, and not the way one would guess: on the 2-core development CPU a
batch of 8 was the slow choice for the small U-Net, while channels_last
(NHWC, which oneDNN's convolutions prefer) changed a ResNet encoder's speed
several times over. So prediction does not guess on the CPU: the first time a
model predicts on a machine, `forward_plan` times a short probe of batch
sizes in both memory formats on chips of the model's size (tens of CPU
seconds, once per machine and model; larger batches are not tried once one forward takes
over `PROBE_MAX_FORWARD_S` or the speed falls well below the best so far),
keeps the fastest, and stores it in the model directory
(`forward_plan.json`, keyed by CPU, thread count, chip size and torch
version) so later predictions read it instead. On a CPU that computes
bfloat16 natively (AVX512-BF16, AMX) the winner is timed again under
bfloat16 autocast, which is kept only when it is at least 15% faster and its
probabilities stay within two steps of the stored map (2/254) of float32's.
On CUDA the rule is batch 16 in channels_last (with autocast, see
InferenceConfig.amp).

ONNX Runtime is the other contender on a CPU (`mlcore.predict.onnx_forward`):
on a CPU without native bfloat16 it ran the recipe's U-Net 1.6x faster than
PyTorch's best. Trying it needs the model exported (about 20 s, once), so
`try_onnxruntime` runs only when a scene's forward work would take longer
than `ONNX_WORTH_S` with PyTorch (a demo scene on the recipe's 2 m grid
takes seconds); it is kept when at least `ONNX_MIN_GAIN` faster and within
2/254 of PyTorch's float32 probabilities, and the answer joins the stored
plan, so the question is asked once per machine and model.

Whatever the user sets (`InferenceConfig.batch_size`, `.channels_last`,
`.amp`; the CLI's `--batch-size`, `--channels-last`, `--amp`) is used as given; what is left
open comes from the rule or the (cached) probe.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from mlcore.atomic import write_atomic
from mlcore.predict.onnx_forward import OnnxForward, forward_file

PLAN_FILE = "forward_plan.json"
CUDA_BATCH = 16
PROBE_BATCHES = (1, 2, 4, 8, 16, 32)
PROBE_MAX_FORWARD_S = 1.0
# Each configuration runs forwards until this much time is spent (at least two).
PROBE_SECONDS = 0.3
# bfloat16 must gain this much, and stay this close to float32's probabilities (the stored
# map's step is 1/254), to be chosen.
BF16_MIN_GAIN = 1.15
BF16_MAX_DIFF = 2 / 254
ONNX_MIN_GAIN = 1.15
# PyTorch forward seconds a prediction must need before an ONNX export is worth timing.
ONNX_WORTH_S = 60.0
RUNTIMES = ("torch", "onnxruntime")


@dataclass(frozen=True)
class ForwardPlan:
    """How the forward pass runs: chips per batch, memory format, and where that came from."""

    batch_size: int
    channels_last: bool
    source: str  # "given", "rule", "probe" or "cached probe"
    chips_per_s: float | None = None
    bf16: bool = False  # bfloat16 autocast on a CPU that computes it natively
    runtime: str = "torch"  # or "onnxruntime" (CPU only)
    onnx_checked: bool = False  # whether ONNX Runtime was timed against this plan


def forward_plan(
    model: torch.nn.Module,
    device: torch.device,
    *,
    in_channels: int,
    chip_size: int,
    model_dir: Path | None = None,
    batch_size: int | None = None,
    channels_last: bool | None = None,
    amp: bool | None = None,
) -> ForwardPlan:
    """The configuration to predict with: the user's where given, else the rule or the probe.

    `amp` None lets the probe try bfloat16 on a CPU that has it; False keeps float32.
    """
    if batch_size is not None and channels_last is not None and amp is not None:
        return ForwardPlan(batch_size, channels_last, "given", bf16=bool(amp))
    if device.type == "cuda":
        return ForwardPlan(
            CUDA_BATCH if batch_size is None else batch_size,
            True if channels_last is None else channels_last,
            "rule",
        )
    key = _machine_key(device, chip_size)
    cached = _read_cached(model_dir, key)
    if cached is None:
        cached = probe(model, device, in_channels=in_channels, chip_size=chip_size)
        _store(model_dir, key, cached)
    if batch_size is None and channels_last is None and amp is None:
        return cached
    return ForwardPlan(
        cached.batch_size if batch_size is None else batch_size,
        cached.channels_last if channels_last is None else channels_last,
        "given and probe",
        bf16=cached.bf16 if amp is None else bool(amp),
    )


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX): only then is it faster."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@torch.inference_mode()
def probe(
    model: torch.nn.Module,
    device: torch.device,
    *,
    in_channels: int,
    chip_size: int,
    batches: tuple[int, ...] = PROBE_BATCHES,
) -> ForwardPlan:
    """Time forward passes over batch sizes in both memory formats; the fastest wins.

    Each configuration is timed over a few forwards in CPU time (see
    `_seconds_per_forward`). On a CPU with native bfloat16 the winner is
    tried with bfloat16 autocast too. The model is left in the memory format
    it came in.
    """
    was_channels_last = _is_channels_last(model)
    best: tuple[float, int, bool] | None = None
    try:
        for channels_last in (True, False):
            model.to(
                memory_format=torch.channels_last if channels_last else torch.contiguous_format
            )
            format_best = 0.0
            for batch in batches:
                x = torch.rand(batch, in_channels, chip_size, chip_size, device=device)
                if channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                model(x)  # warm-up: oneDNN picks its kernels on the first call
                seconds = _seconds_per_forward(model, x)
                rate = batch / seconds
                if best is None or rate > best[0]:
                    best = (rate, batch, channels_last)
                format_best = max(format_best, rate)
                # Larger batches only cost more once one forward is long or speed falls away.
                if seconds > PROBE_MAX_FORWARD_S or rate < 0.7 * format_best:
                    break
        assert best is not None
        rate, batch, channels_last = best
        model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        bf16_rate = (
            _bf16_rate_if_better(model, device, in_channels, chip_size, best)
            if cpu_has_bf16()
            else None
        )
        if bf16_rate is not None:
            return ForwardPlan(batch, channels_last, "probe", chips_per_s=bf16_rate, bf16=True)
    finally:
        model.to(
            memory_format=torch.channels_last if was_channels_last else torch.contiguous_format
        )
    return ForwardPlan(batch, channels_last, "probe", chips_per_s=rate)


def _bf16_rate_if_better(
    model: torch.nn.Module, device: torch.device, in_channels: int, chip_size: int, best: tuple
) -> float | None:
    """Chips per second under bfloat16 autocast at the best float32 configuration, when at
    least `BF16_MIN_GAIN` faster and its probabilities within `BF16_MAX_DIFF` of float32's."""
    rate, batch, channels_last = best
    x = torch.rand(batch, in_channels, chip_size, chip_size, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    exact = torch.sigmoid(model(x).float())
    with torch.autocast(device.type, dtype=torch.bfloat16):
        low = torch.sigmoid(model(x).float())
        seconds = _seconds_per_forward(model, x)
    close = float((low - exact).abs().max()) <= BF16_MAX_DIFF
    return batch / seconds if close and batch / seconds >= BF16_MIN_GAIN * rate else None


@torch.inference_mode()
def try_onnxruntime(
    plan: ForwardPlan,
    model: torch.nn.Module,
    *,
    in_channels: int,
    chip_size: int,
    model_dir: Path,
    sha256: str,
) -> tuple[ForwardPlan, OnnxForward | None]:
    """The plan, switched to ONNX Runtime where that is faster here, and stored either way;
    with the runtime to keep using when it won.

    Timed at the plan's batch size in CPU time, as the probe times PyTorch,
    against the plan's own rate (`model` as it runs, in either memory format).
    Whatever keeps ONNX Runtime from running (a model the exporter cannot
    write, a directory that cannot hold the file, a package missing) keeps
    PyTorch: the question only asks for something faster, never for a failure.
    """
    checked = replace(plan, onnx_checked=True)
    key = _machine_key(torch.device("cpu"), chip_size)
    try:
        runtime = OnnxForward(forward_file(model_dir, sha256), torch.get_num_threads())
        x = torch.rand(plan.batch_size, in_channels, chip_size, chip_size)
        if plan.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        exact = torch.sigmoid(model(x)[:, 0].float()).numpy()
        batch = x.contiguous().numpy()
        close = float(np.abs(runtime(batch) - exact).max()) <= BF16_MAX_DIFF
    except Exception:  # noqa: BLE001 - exporter and runtime raise many kinds; PyTorch stays
        _store(model_dir, key, checked)
        return checked, None
    rate = plan.batch_size / _seconds_per_call(lambda: runtime(batch))
    won = close and rate >= ONNX_MIN_GAIN * (plan.chips_per_s or 0.0)
    if won:
        checked = replace(checked, runtime="onnxruntime", chips_per_s=rate, bf16=False)
    _store(model_dir, key, checked)
    return checked, runtime if won else None


def _seconds_per_call(call: Callable[[], object], cuda: bool = False) -> float:
    """Seconds one call takes, timed as `_seconds_per_forward` does."""
    clock = time.perf_counter if cuda else time.process_time
    done, start = 0, clock()
    while done < 2 or clock() - start < PROBE_SECONDS:
        call()
        if cuda:
            torch.cuda.synchronize()
        done += 1
    return (clock() - start) / done


def _seconds_per_forward(model: torch.nn.Module, x: torch.Tensor) -> float:
    """Seconds one forward takes: CPU time of this process on the CPU, wall time on CUDA.

    On a CPU shared with other work, wall time measures the neighbours: a
    short batch-1 forward may run in a quiet moment while a long batch-32 one
    is always interrupted. The CPU time this process spends (all its threads)
    is the work the configuration costs, whatever the load.
    """
    return _seconds_per_call(lambda: model(x), cuda=x.is_cuda)


def _is_channels_last(model: torch.nn.Module) -> bool:
    for p in model.parameters():
        if p.dim() == 4:
            return p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
    return False


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _machine_key(device: torch.device, chip_size: int) -> str:
    return (
        f"{device.type}|{_cpu_name()}|cores={os.cpu_count()}|threads={torch.get_num_threads()}"
        f"|chip={chip_size}|torch={torch.__version__}"
    )


def _read_cached(model_dir: Path | None, key: str) -> ForwardPlan | None:
    if model_dir is None:
        return None
    try:
        entry = json.loads((Path(model_dir) / PLAN_FILE).read_text())[key]
        return ForwardPlan(
            int(entry["batch_size"]),
            bool(entry["channels_last"]),
            "cached probe",
            chips_per_s=float(entry["chips_per_s"]),
            bf16=bool(entry.get("bf16", False)),
            runtime=entry.get("runtime", "torch") if entry.get("runtime") in RUNTIMES else "torch",
            onnx_checked=bool(entry.get("onnx_checked", False)),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _store(model_dir: Path | None, key: str, plan: ForwardPlan) -> None:
    """Add this machine's plan to the model directory's file; a read-only directory is fine."""
    if model_dir is None:
        return
    path = Path(model_dir) / PLAN_FILE
    try:
        plans = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        plans = {}
    plans[key] = {
        "batch_size": plan.batch_size,
        "channels_last": plan.channels_last,
        "chips_per_s": plan.chips_per_s,
        "bf16": plan.bf16,
        "runtime": plan.runtime,
        "onnx_checked": plan.onnx_checked,
        "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with contextlib.suppress(OSError):  # a plan not kept is probed again next time
        write_atomic(path, json.dumps(plans, indent=2), durable=False)
