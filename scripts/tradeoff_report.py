"""The report half of ``scripts/tradeoff.py``: the markdown table and the figure, from the sweep's JSON.

Imported when the report is written (so a long sweep picks up the latest version of this file at its end).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure
from torch import nn

from camlib.boxes import largest_component_box
from camlib.cam import get_method, normalize, upsample
from camlib.data.shapes import Shapes
from camlib.profile import get_profile
from camlib.viz.tradeoff import MapRow, plot_tradeoff

METHOD_LABEL = {"cam": "CAM", "gradcam": "Grad-CAM", "saliency": "gradient saliency"}
ARCH_LABEL = {"gap": "GAP network", "gmp": "GMP network", "fc": "FC-head network"}


def _stat(runs: list[dict[str, Any]], b: int, key: str) -> str:
    v = [float(r[key]) for r in runs if r["budget"] == b]
    mean = sum(v) / len(v)
    if len(v) == 1:
        return f"{mean:.1f}"
    sd = (sum((x - mean) ** 2 for x in v) / (len(v) - 1)) ** 0.5
    return f"{mean:.1f} ± {sd:.1f} [{min(v):.1f}–{max(v):.1f}]"


def figure_images(val: Shapes, classes: Sequence[str]) -> list[int]:
    """The first validation image of each class of ``classes``, in that order."""
    want = [val.class_names.index(c) for c in classes]
    found: dict[int, int] = {}
    for i in range(len(val)):
        label = val[i].label
        if label in want and label not in found:
            found[label] = i
        if len(found) == len(want):
            break
    return [found[c] for c in want if c in found]


def figure(
    doc: dict[str, Any],
    method: str,
    models: dict[int, nn.Module],
    val: Shapes,
    classes: Sequence[str],
    selection: dict[str, dict[str, Any]],
) -> Figure:
    """The curves of every run and, beneath them, the seed-0 maps of the same validation images."""
    runs = doc["runs"]
    budgets = sorted({r["budget"] for r in runs})
    curves = {
        f"accuracy (%) on {doc['val_images']} validation images": {b: [r["val_accuracy"] for r in runs if r["budget"] == b] for b in budgets},
        f"MaxBoxAccV2 (%) on {doc['val_images']} validation images": {b: [r["val_max_box_acc_v2"] for r in runs if r["budget"] == b] for b in budgets},
    }  # fmt: skip
    idx = figure_images(val, classes)
    batch = val.batch(idx)
    assert batch.boxes is not None
    h, w = batch.images.shape[-2:]
    rows = []
    for b, model in sorted(models.items()):
        out = get_method(method)(model, batch.images, batch.labels)  # maps (N, 1, h', w') of the true class
        maps = out.maps if out.maps.shape[-2:] == (h, w) else upsample(out.maps, (h, w))
        maps = maps[:, 0]  # (N, H, W)
        run = next(r for r in runs if r["budget"] == b and r["seed"] == 0)
        boxes = largest_component_box(normalize(maps, "minmax"), run["val_chosen_tau"])  # (N, 4)
        label = (
            f"{b} epoch{'s' * (b != 1)}, seed 0\nacc {run['val_accuracy']:.1f}%\nMaxBoxAccV2 {run['val_max_box_acc_v2']:.1f}\n"
            f"box: τ={run['val_chosen_tau']:.2f} (min–max)"
        )
        rows.append(MapRow(label, maps, out.logits.argmax(1).tolist(), boxes))
    marks = {name: sel["budget"] for name, sel in selection.items()}
    arch = doc["settings"]["arch"]
    return plot_tradeoff(
        curves,
        batch.images,
        batch.labels.tolist(),
        val.class_names,
        rows,
        boxes=batch.boxes,
        part_boxes=batch.part_boxes,
        marks=marks,
        method=METHOD_LABEL.get(method, method),
        title=(
            f"{ARCH_LABEL[arch]} {'-'.join(map(str, doc['settings']['widths']))}: accuracy and localization "
            f"against training epochs, on the validation split"
        ),
    )


def markdown(doc: dict[str, Any], selection: dict[str, dict[str, Any]], command: str, s: Any) -> str:
    """``tradeoff*.md``: settings, mean and spread per budget, every run, the selection rule and its result."""
    runs = doc["runs"]
    budgets = sorted({r["budget"] for r in runs})
    seeds = sorted({r["seed"] for r in runs})
    arch, method = doc["settings"]["arch"], doc["method"]
    mlabel = METHOD_LABEL.get(method, method)
    spread = "mean ± standard deviation [min–max] over the seeds" if len(seeds) > 1 else "one seed"
    lines = [
        f"# Accuracy against localization over training: {ARCH_LABEL[arch]}, validation split",
        "",
        f"Written by `{command}` (re-runnable: seeded, and a rerun resumes from the JSON). "
        f"{ARCH_LABEL[arch]} with the trunk {'-'.join(map(str, s.widths))} (downsample {s.downsample}, so a "
        f"{s.image_size // s.downsample}×{s.image_size // s.downsample} last map), {s.profile} profile: "
        f"{s.train_size} training images of {s.image_size} px, batch {s.batch_size}, AdamW lr {s.lr:g}, weight "
        f"decay {s.weight_decay:g}, warm-up + cosine. Each budget is its own run with its own schedule: the model of "
        f"`python -m camlib train --model {arch} --epochs K --seed S` with these settings. Seeds {seeds}.",
        "",
        f"Every number is measured on the **validation split** ({doc['val_images']} images with boxes); the test "
        f"split is not read. Maps: {mlabel} of the true class, bilinear upsampling; MaxBoxAcc and MaxBoxAccV2 "
        f"(Choe et al., CVPR 2020) on min–max normalised maps; τ: the threshold of the best BoxAcc(τ, 0.5) of "
        f"the largest component (min–max normalised), chosen on the same split. Percentages; {spread}.",
        "",
        "| epochs | val accuracy | val MaxBoxAccV2 | δ=.3 | δ=.5 | δ=.7 | MaxBoxAcc | PxAP | τ (seed 0) | train s |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for b in budgets:
        r0 = next(r for r in runs if r["budget"] == b and r["seed"] == 0)
        secs = [r["train_seconds"] for r in runs if r["budget"] == b]
        cells = [_stat(runs, b, "val_accuracy"), _stat(runs, b, "val_max_box_acc_v2")]
        cells += [_stat(runs, b, k).split(" ")[0] for k in ("val_max_box_acc_delta_0.3", "val_max_box_acc_delta_0.5", "val_max_box_acc_delta_0.7", "val_max_box_acc", "val_pxap")]  # fmt: skip
        cells += [f"{r0['val_chosen_tau']:.2f}", f"{sum(secs) / len(secs):.0f}"]
        lines.append(f"| {b} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "(δ, MaxBoxAcc and PxAP columns: means over the seeds.)",
        "",
        "## The selection rule and what it chose",
        "",
    ]
    if arch == "gap":
        lines.append(
            "Written before the sweep and applied to its numbers: the shipped localization model `gap` is the budget "
            "with the best **mean validation MaxBoxAccV2**, the shipped classifier `gap_fast` the budget with the best "
            "**mean validation accuracy**; each ships its seed-0 run. Nothing is chosen on test. Added after the first "
            "look at this sweep, because the rule alone separated budgets by far less than the seeds' spread: budgets "
            "whose mean is within one standard error (sd / √seeds, of the best budget) of the best mean are **tied**, "
            "and a tie goes to the better mean of the other metric (localization for `gap_fast`, accuracy for `gap`)."
        )
    else:
        lines.append(
            f"The shipped `{arch}` is the budget with the best validation MaxBoxAccV2 of its {mlabel} (seed 0; exact "
            "ties: the better accuracy), so that every row of `python -m camlib reproduce` is each model at its best "
            "localization on validation. Nothing is chosen on test."
        )
    lines.append("")
    profile = get_profile(s.profile)
    label = {"val_max_box_acc_v2": "MaxBoxAccV2", "val_accuracy": "accuracy"}
    for name, sel in selection.items():
        what = label[sel["metric"]]
        means = ", ".join(f"{b}: {_stat(runs, b, sel['metric']).split(' ')[0]}" for b in budgets)
        line = (
            f"- `{name}` = **{sel['budget']} epoch{'s' * (sel['budget'] != 1)}**: {'mean ' * (len(seeds) > 1)}validation {what} "
            f"{sel['mean']:.2f} (by budget: {means})."
        )
        if sel["by_metric_alone"] != sel["budget"]:
            alone = sel["by_metric_alone"]
            other = label[sel["tie_break"]]
            mean_alone = sum(r[sel["metric"]] for r in runs if r["budget"] == alone) / sum(
                r["budget"] == alone for r in runs
            )
            line += (
                f" The metric alone picks {alone} epoch{'s' * (alone != 1)} ({mean_alone:.2f}), tied with it "
                f"within one standard error (tied: {sel['tied_within_one_se']}); the tie goes to the better mean "
                f"validation {other}: {_stat(runs, sel['budget'], sel['tie_break']).split(' ')[0]} against "
                f"{_stat(runs, alone, sel['tie_break']).split(' ')[0]}."
            )
        if sel["budget"] == budgets[0] and len(budgets) > 1:
            line += " It is the smallest budget of the sweep: fewer epochs were not tried."
        lines.append(line)
    same = len({sel["budget"] for sel in selection.values()}) < len(selection)
    if arch == "gap" and same:
        lines.append("- Both rules chose the same budget: `gap_fast` is the same model as `gap`.")
    lines += [
        "",
        "Re-made with these commands (`python scripts/tradeoff.py --ship` runs them, checks that each gives the "
        "sweep's validation accuracy, and records the selection in the manifest). The thread count is the sweep's: "
        "the last bits of a model depend on it.",
        "",
    ]
    for name, sel in selection.items():
        argv = [*s.train_argv(sel["budget"], 0, profile.test_size), "--no-progress", "--zoo", name, "--force"]
        argv += ["--threads", str(doc.get("threads", 1))]
        lines.append(f"    python -m camlib {shlex.join(argv)}")
    lines += [
        "",
        "## Every run",
        "",
        "| epochs | seed | val accuracy | val MaxBoxAccV2 | τ | train s |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r['budget']} | {r['seed']} | {r['val_accuracy']:.1f} | {r['val_max_box_acc_v2']:.1f} | "
            f"{r['val_chosen_tau']:.2f} | {r['train_seconds']:.0f} |"
        )
    lines += [
        "",
        "Training seconds were measured on a 2-core machine shared with other jobs: read them as an upper bound.",
        "",
    ]
    return "\n".join(lines)
