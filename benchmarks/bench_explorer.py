"""How fast the CAM explorer redraws: typical updates at 64 px on the CPU (target: well under 100 ms).

Times ``app.show(...)`` for a threshold change, an image change (a new image each repetition, so its panels are
not cached), a class change and an overlay-opacity change, for GAP vs GMP (CAM: maps precomputed when the app is
built) and for GAP vs an FC network with gradient saliency (one backward pass per new image or class). Also
times building the app (predictions and CAMs of every explored image, batched). Uses the shipped checkpoints
when ``data/checkpoints`` has them, else freshly initialised networks of the same shape (same cost).

Run: ``python benchmarks/bench_explorer.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import itertools
import time

import torch
from common import summarize, timeit, write_result

from camlib import zoo
from camlib.data.shapes import Shapes
from camlib.explorer import CAMExplorer
from camlib.models import FCNet, GAPNet

N_IMAGES = 200
REPS = 9


def models() -> tuple[dict[str, torch.nn.Module], str]:
    have = set(zoo.available())
    if {"gap", "gmp", "fc"} <= have:
        return {n.upper(): zoo.load(n) for n in ("gap", "gmp", "fc")}, "shipped checkpoints (camlib.zoo)"
    torch.manual_seed(0)
    fresh = {"GAP": GAPNet(6), "GMP": GAPNet(6, pool="max"), "FC": FCNet(6)}
    return {k: v.eval() for k, v in fresh.items()}, "freshly initialised networks (no checkpoints yet)"


def bench_app(app: CAMExplorer) -> dict[str, list[float]]:
    """Seconds per update kind; each repetition changes the state so nothing is a no-op."""
    new_images = itertools.cycle(app.indices[1:])
    taus = itertools.cycle([0.3, 0.5, 0.2, 0.7, 0.4, 0.6])
    alphas = itertools.cycle([0.3, 0.7])
    classes = itertools.cycle(range(app.num_classes))
    updates = {
        "tau": lambda: app.show(tau=next(taus)),
        "image": lambda: app.show(index=next(new_images)),
        "class": lambda: app.show(cls=next(classes)),
        "alpha": lambda: app.show(alpha=next(alphas)),
    }
    out: dict[str, list[float]] = {}
    for name, fn in updates.items():
        fn()  # warm-up
        times = []
        for _ in range(REPS):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        out[name] = times
    return out


def main() -> None:
    torch.set_num_threads(min(2, torch.get_num_threads()))
    nets, source = models()
    test = Shapes("test", size=N_IMAGES, image_size=64)
    t0 = time.perf_counter()
    test.batch(range(N_IMAGES))
    t_data = time.perf_counter() - t0
    build = timeit(lambda: CAMExplorer({"GAP": nets["GAP"], "GMP": nets["GMP"]}, test), reps=5, warmup=1)
    setups = {
        "GAP vs GMP (CAM)": CAMExplorer({"GAP": nets["GAP"], "GMP": nets["GMP"]}, test),
        "GAP vs FC (saliency)": CAMExplorer(
            {"GAP": nets["GAP"], "FC": nets["FC"]}, test, methods={"FC": "saliency"}
        ),
    }
    rows, data = [], {"source": source, "images": N_IMAGES, "image_size": 64, "reps": REPS}
    data["build_s"] = build.median
    data["dataset_generation_s"] = t_data
    for label, app in setups.items():
        res = {k: summarize(v) for k, v in bench_app(app).items()}
        data[label] = {k: v.median for k, v in res.items()}
        rows.append(
            f"| {label} | " + " | ".join(res[k].fmt_ms() for k in ("tau", "image", "class", "alpha")) + " |"
        )
    png = len(setups["GAP vs GMP (CAM)"].image_widget.value)
    md = "\n".join(
        [
            f"`CAMExplorer` on {N_IMAGES} test images of 64 px, panels shown at 256 px; {source}. One update = "
            f"`app.show(...)`: maps (cached), the paper's box and IoU per model, PIL drawing, PNG encoding "
            f"({png / 1024:.0f} kB per frame). Median (min–max) of {REPS} updates after a warm-up.",
            "",
            "| models | τ change | new image | class change | alpha change |",
            "|---|---|---|---|---|",
            *rows,
            "",
            f"Building the app (predictions + CAMs of all {N_IMAGES} images, batched, plus the first frame): "
            f"{build.fmt_ms()}, of which generating the {N_IMAGES} images takes {t_data * 1e3:.0f} ms. CAM maps "
            "of every class come from the build's forward passes; for gradient saliency the build computes the "
            "map of each image's predicted class in batches, and any other class costs one backward pass the "
            "first time it is shown (the max of the class-change column).",
        ]
    )
    path = write_result("explorer", "CAM explorer: redraw time per update (CPU)", md, data)
    print(md)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
