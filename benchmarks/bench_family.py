"""Figure 6: the CAM family, each camlib method vs torchcam's and pytorch-grad-cam's same method, in ONE process.

resnet18 (``weights=None``, seed 0), 224 px, batch ``BATCH`` (32; ``CAMLIB_BENCH_FAMILY_BATCH`` overrides it on a
machine too slow or too busy for 32, and the table says which), the predicted class; every implementation's default call
(torchcam: the extractor on ``model(x)``'s scores, maps at the layer's resolution; pytorch-grad-cam: ``cam(x)``,
which also min-maxes and resizes to the image in NumPy/OpenCV; camlib: ``METHODS[name](model, x)``, raw maps at
the layer's resolution). Timed round-robin in one process (``common.timeit_interleaved``): throughput ratios are
medians of ratios paired within a round. Before timing, each library's maps are compared with camlib's after the
same post-processing (tests/test_cam_family.py's rules), so a ratio is only claimed for equal maps.

The passes one call needs set a floor no implementation can beat: timed here as the bare passes (``floor``):
the forward pass alone (CAM, Eigen-CAM), the forward with graph plus ``torch.autograd.grad`` of the class scores
to the layer (the gradient methods), the forward plus the B*K masked forwards (Score-CAM). "× floor" is camlib's
time over that floor.

Score-CAM costs B*K = 32 * 512 masked forwards at batch 32 (about ten minutes per call on two CPU cores), so it
is measured at batch 1 (512 masked forwards + 1), 5 rounds without warm-up, at ``SCORE_SIZE`` px (224;
``CAMLIB_BENCH_SCORECAM_SIZE`` overrides it): its cost is linear in B, the ratio is per image.
cam, gradcam and saliency are also in bench_cam.py's figure 1 (vs captum too). Run:
``.venv/bin/python benchmarks/run_all.py --only family``.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
import torchvision
from common import package_versions, ratio_stats, summarize, timeit_interleaved, write_result
from torch import Tensor, nn

from camlib.cam import METHODS, capture, normalize, upsample

#: camlib name -> (torchcam class name, pytorch-grad-cam class name, passes of one call); None: no such method
PEERS: dict[str, tuple[str | None, str | None, str]] = {
    "cam": ("CAM", None, "1 forward"),
    "gradcam": ("GradCAM", "GradCAM", "1 forward + 1 backward to the layer"),
    "gradcampp": ("GradCAMpp", "GradCAMPlusPlus", "1 forward + 1 backward to the layer"),
    "xgradcam": ("XGradCAM", "XGradCAM", "1 forward + 1 backward to the layer"),
    "hirescam": (None, "HiResCAM", "1 forward + 1 backward to the layer"),
    "layercam": ("LayerCAM", "LayerCAM", "1 forward + 1 backward to the layer"),
    "eigencam": (None, "EigenCAM", "1 forward (+ one SVD of (hw, K) per image)"),
    "scorecam": ("ScoreCAM", "ScoreCAM", "1 forward + B·K masked forwards (K = 512)"),
}
#: maps that are not the same method in that library (tests/test_cam_family.py says why): timed, no ratio goal
DIFFERENT = {
    ("gradcampp", "torchcam"): "torchcam 0.5.0 leaves Grad-CAM++'s alpha undivided",
    ("gradcampp", "pytorch-grad-cam"): "pytorch-grad-cam's eps 1e-6 is not negligible on resnet18",
    ("scorecam", "pytorch-grad-cam"): "pytorch-grad-cam upsamples before normalising (other masks)",
}
TOL = 1e-5
SCORE_ROUNDS = 5
THREADS = 2
BATCH = int(os.environ.get("CAMLIB_BENCH_FAMILY_BATCH", "32"))
SCORE_SIZE = int(os.environ.get("CAMLIB_BENCH_SCORECAM_SIZE", "224"))


def calls(model: nn.Module, layer: nn.Module, x: Tensor, name: str) -> dict[str, Callable[[], Any]]:
    """The timed callables of one method: camlib, torchcam, pytorch-grad-cam (those that have it), and the floor."""
    import pytorch_grad_cam as pgc
    import torchcam.methods as tcm

    tc_name, pgc_name, _ = PEERS[name]
    method = METHODS[name]
    out: dict[str, Callable[[], Any]] = {f"camlib {name}": lambda: method(model, x)}
    if tc_name is not None:
        tc_cls = getattr(tcm, tc_name)
        kwargs = {"fc_layer": model.fc} if tc_name == "CAM" else {}

        def torchcam_call() -> list[Tensor]:
            with tc_cls(model, target_layer=layer, **kwargs) as ext:
                if tc_name in ("CAM", "ScoreCAM"):
                    with torch.no_grad():
                        scores = model(x)
                    return ext(class_idx=scores.argmax(1).tolist())
                scores = model(x)
                maps = ext(class_idx=scores.argmax(1).tolist(), scores=scores)
            model.zero_grad(set_to_none=True)
            return maps

        out[f"torchcam {tc_name}"] = torchcam_call
    if pgc_name is not None:
        pgc_cls = getattr(pgc, pgc_name)

        def pgc_call() -> Any:
            with pgc_cls(model=model, target_layers=[layer]) as cam:
                maps = cam(input_tensor=x, targets=None)
            model.zero_grad(set_to_none=True)
            return maps

        out[f"pytorch-grad-cam {pgc_name}"] = pgc_call
    out[f"floor {name}"] = floor(model, layer, x, name)
    return out


def floor(model: nn.Module, layer: nn.Module, x: Tensor, name: str) -> Callable[[], Any]:
    """The bare passes one call of ``name`` needs (see the module docstring)."""

    def forward() -> Tensor:
        with torch.no_grad():
            return model(x)

    def forward_backward() -> Tensor:
        with capture(layer) as seen:
            scores = model(x)  # (B, C)
            cls = scores.argmax(1, keepdim=True)  # (B, 1)
        return torch.autograd.grad(scores.gather(1, cls).sum(), seen["value"])[0]

    k = 512  # resnet18's layer4 channels
    n = max(1, 2**22 // (x.shape[-2] * x.shape[-1]))  # camlib's Score-CAM images per pass
    masked = torch.rand(n, *x.shape[1:]).contiguous(memory_format=torch.channels_last)

    def score_forwards() -> None:
        with torch.no_grad():
            model(x)
            total = x.shape[0] * k
            for s in range(0, total, n):
                model(masked[: min(n, total - s)])

    if name in ("cam", "eigencam"):
        return forward
    return score_forwards if name == "scorecam" else forward_backward


def agreement(model: nn.Module, layer: nn.Module, x: Tensor, name: str) -> dict[str, float]:
    """Relative max |Δ| of each library's maps vs camlib's after the same post-processing (untimed)."""
    import pytorch_grad_cam as pgc
    import torchcam.methods as tcm

    tc_name, pgc_name, _ = PEERS[name]
    with torch.no_grad():
        cls = model(x).argmax(1)  # (B,)
    ours = METHODS[name](model, x, cls[:, None]).maps  # (B, 1, h, w)
    out: dict[str, float] = {}
    if tc_name is not None:
        kwargs = {"fc_layer": model.fc} if tc_name == "CAM" else {}
        with getattr(tcm, tc_name)(model, target_layer=layer, **kwargs) as ext:
            if tc_name in ("CAM", "ScoreCAM"):
                with torch.no_grad():
                    model(x)
                ref = ext(class_idx=cls.tolist(), normalized=False)[0]
            else:
                ref = ext(class_idx=cls.tolist(), scores=model(x), normalized=False)[0]
        model.zero_grad(set_to_none=True)
        mine = ours[:, 0]  # both (B, h, w) at the layer's resolution, not normalised
        out["torchcam"] = float((mine - ref.detach()).abs().max() / ref.abs().max())
    if pgc_name is not None:
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        with getattr(pgc, pgc_name)(model=model, target_layers=[layer]) as cam:
            ref = torch.from_numpy(cam(input_tensor=x, targets=[ClassifierOutputTarget(int(c)) for c in cls]))
        model.zero_grad(set_to_none=True)
        mine = normalize(upsample(normalize(ours), (x.shape[-2], x.shape[-1])))[:, 0]  # pgc's order
        if name == "eigencam":  # a singular vector's sign is arbitrary: compare with the closer sign
            flipped = normalize(upsample(normalize((-ours).relu()), (x.shape[-2], x.shape[-1])))[:, 0]
            mine = min(mine, flipped, key=lambda m: float((m - ref).abs().max()))
        out["pytorch-grad-cam"] = float((mine - ref).abs().max() / ref.abs().max())
    return out


def rounds(fns: dict[str, Callable[[], Any]], n: int) -> dict[str, list[float]]:
    """``n`` round-robin rounds (no warm-up: the agreement check ran each call once)."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    for r in range(n):
        for j in range(len(names)):
            k = names[(r + j) % len(names)]
            t0 = time.perf_counter()
            fns[k]()
            times[k].append(time.perf_counter() - t0)
    return times


def run(reps: int = 5) -> tuple[list[str], dict[str, Any]]:
    """Measure the family; returns (markdown lines, raw numbers)."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    layer = model.layer4
    x32 = torch.rand(BATCH, 3, 224, 224, generator=torch.Generator().manual_seed(32))
    x1 = torch.rand(1, 3, SCORE_SIZE, SCORE_SIZE, generator=torch.Generator().manual_seed(1))
    data: dict[str, Any] = {}
    rows, load = [], []
    for name in PEERS:
        x = x1 if name == "scorecam" else x32
        t_load = _load()
        agree = agreement(model, layer, x, name)
        fns = calls(model, layer, x, name)
        times = (
            rounds(fns, SCORE_ROUNDS) if name == "scorecam" else timeit_interleaved(fns, reps=reps, warmup=1)
        )
        load.append((t_load + _load()) / 2)
        ours = times[f"camlib {name}"]
        fl = ratio_stats(ours, times[f"floor {name}"])
        entry: dict[str, Any] = {
            "batch": int(x.shape[0]),
            "passes": PEERS[name][2],
            "agreement": agree,
            "timing": {k: summarize(v) for k, v in times.items()},
            "x_floor": fl,
            "peers": {},
        }
        peer_txt = {}
        for lib, key in (("torchcam", 0), ("pytorch-grad-cam", 1)):
            cls_name = PEERS[name][key]
            if cls_name is None:
                peer_txt[lib] = "—"
                continue
            r = ratio_stats(times[f"{lib} {cls_name}"], ours)  # throughput camlib / peer
            equal = agree[lib] <= TOL
            entry["peers"][lib] = {"ratio": r, "equal_maps": equal, "rel_diff": agree[lib]}
            note = "" if equal else f" (maps differ: {agree[lib]:.1e}; {DIFFERENT.get((name, lib), '?')})"
            peer_txt[lib] = f"{r[0]:.2f}× ({r[1]:.2f}–{r[2]:.2f}){note}"
        goal, ok = goal_status(name, entry["peers"])
        entry["goal"], entry["met"] = goal, ok
        data[name] = entry
        t = summarize(ours)
        rows.append(
            f"| {name} | {int(x.shape[0])} | {t.median * 1e3:,.0f} | {peer_txt['torchcam']} | "
            f"{peer_txt['pytorch-grad-cam']} | {goal}: {'met' if ok else '**missed**'} | {PEERS[name][2]} | "
            f"{fl[0]:.2f}× |"
        )
        print(
            f"family {name}: "
            + ", ".join(f"{k} {summarize(v).median * 1e3:.0f} ms" for k, v in times.items())
        )
    data["load_1min"] = load
    md = [
        f"**The CAM family on resnet18, 224 px, batch {BATCH}** (Score-CAM: batch 1 at {SCORE_SIZE} px, "
        f"{SCORE_ROUNDS} rounds; the goal's setting is batch 32 at 224 px). Throughput ratio = "
        "camlib's images/s over the peer's, the median of ratios paired within a round (min–max); a ratio is "
        f"a claim only where the maps are equal (relative max |Δ| ≤ {TOL:g} after the same post-processing). "
        "× floor = camlib's time over the bare passes the method needs (module docstring of "
        "`benchmarks/bench_family.py`).",
        "",
        "| method | batch | camlib ms per call | vs torchcam | vs pytorch-grad-cam | goal | passes per call | "
        "camlib × floor |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"1-minute load average during the family: {statistics.mean(load):.1f} "
        f"(min {min(load):.1f}, max {max(load):.1f}) on {_cpus()} CPUs: a shared machine, other agents running.",
        "",
    ]
    return md, data


def goal_status(name: str, peers: dict[str, Any]) -> tuple[str, bool]:
    """The goal of one method and whether it is met (against the faster peer with equal maps)."""
    equal = {lib: p["ratio"][0] for lib, p in peers.items() if p["equal_maps"]}
    if name == "scorecam":
        r = peers.get("torchcam", {}).get("ratio", (0.0,))[0]
        return "≥ 2× torchcam", r >= 2.0
    if not equal:  # no peer computes the same maps: compare with the faster one anyway
        r = min((p["ratio"][0] for p in peers.values()), default=0.0)
        return "≥ 1.0× the faster peer (no peer has equal maps)", r >= 1.0
    return "≥ 1.0× the faster peer", min(equal.values()) >= 1.0


def _load() -> float:
    return os.getloadavg()[0]


def _cpus() -> int:
    return os.cpu_count() or 0


def main() -> None:
    torch.set_num_threads(THREADS)
    md, data = run()
    versions = package_versions(["torch", "torchvision", "torchcam", "grad-cam", "opencv-python-headless"])
    data.update(threads=torch.get_num_threads(), batch=BATCH, score_size=SCORE_SIZE, versions=versions)
    head = [
        f"torch threads: {data['threads']}. Versions: "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + ".",
        "",
    ]
    markdown = "\n".join(head + md)
    path = write_result("family", "The CAM family: camlib vs torchcam and pytorch-grad-cam", markdown, data)
    print(markdown)
    print(f"wrote {path.name}")


if __name__ == "__main__":
    main()
