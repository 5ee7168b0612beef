"""Several objects per image: does each class's map light up its own creature? (issue 17, point 1)

The shipped networks were trained on ONE creature per image (``data/checkpoints/``). On scenes of 2-3 creatures of
different classes (:class:`camlib.data.shapes.MultiShapes`, test split, at the models' 64 px) every present class
gets its map, judged against that class's box (:func:`camlib.localization.score_scene_maps`): the pointing game
(issue 18's, with its tolerance) and the share of the map's positive mass inside the box. Methods: CAM of the GAP
networks (``gap``: 2 epochs, the course's default; ``gap_fast``: 8 epochs), CAM of the GMP network, and the
model-free centred prior (one map for every class; its box size is the mean box of 512 TRAINING scenes,
``--prior-scenes``).

Writes ``reports/multi_object_fast.{md,json}`` and ``reports/multi_object_topk.png`` (the first test scene with
three creatures: each network's top-k class maps, the paper's Fig. 4 at small scale). Existing files are replaced
only with ``--force``.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/multi_object.py --scenes 200 --force
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

from camlib import zoo
from camlib.cam import evaluation
from camlib.data.shapes import MultiConfig, MultiShapes, SceneBatch, mean_box_size
from camlib.data.shapes.classes import shapes_twins
from camlib.files import REPO_ROOT, DestinationError, atomic_write, check_destination
from camlib.localization import MultiObjectScore, prior_scene_maps, scene_maps, score_beside, score_scene_maps
from camlib.viz import show_scene_topk

MODELS = {"gap": "GAP network, CAM (gap, 2 epochs)", "gap_fast": "GAP network, CAM (gap_fast, 8 epochs)",
          "gmp": "GMP network, CAM (gmp, 2 epochs)"}  # fmt: skip
PRIOR = "centred prior (no model)"
PRIOR_SCENES = 512  # training scenes whose mean box sizes the prior


def top_n_hits(logits: torch.Tensor, batch: SceneBatch) -> float:
    """% of scenes whose n present classes are exactly the model's n highest logits."""
    ok = [
        set(logits[i].topk(int(n)).indices.tolist()) == set(batch.labels[i, : int(n)].tolist())
        for i, n in enumerate(batch.counts)
    ]
    return 100 * sum(ok) / len(ok)


def table(s: MultiObjectScore, title: str) -> list[str]:
    """The markdown table of one method: a row per class and the overall row."""
    out = [f"### {title}", "", "| class | objects | pointing game (%) | mass in own box (%) | misses on another "
           "creature (%) |", "|---|---|---|---|---|"]  # fmt: skip
    out += [f"| {c} | {v.objects} | {v.pointing:.1f} | {v.mass_share:.1f} | {v.on_other:.1f} |"
            for c, v in s.per_class.items()]  # fmt: skip
    out += [
        f"| **all** | {s.objects} | **{s.pointing:.1f}** | **{s.mass_share:.1f}** | {s.on_other:.1f} |",
        "",
    ]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenes", type=int, default=200, help="test scenes to score (default 200)")
    p.add_argument("--seed", type=int, default=0, help="the scenes' seed (default 0)")
    p.add_argument("--max-overlap", type=float, default=MultiConfig().max_overlap, help="box overlap bound")
    p.add_argument(
        "--prior-scenes", type=int, default=PRIOR_SCENES, help="training scenes sizing the prior's box"
    )
    p.add_argument("--out", type=Path, default=REPO_ROOT / "reports", help="folder of the report")
    p.add_argument("--force", action="store_true", help="replace existing report files")
    a = p.parse_args(argv)
    if a.scenes < 1 or a.prior_scenes < 1:
        p.error(f"--scenes and --prior-scenes must be >= 1, got {a.scenes} and {a.prior_scenes}")
    paths = [
        a.out / "multi_object_fast.md",
        a.out / "multi_object_fast.json",
        a.out / "multi_object_topk.png",
    ]
    try:
        for path in paths:
            check_destination(path, force=a.force, how="--force")
        config = MultiConfig(max_overlap=a.max_overlap)
    except (DestinationError, ValueError) as exc:
        p.error(str(exc))
    t0 = time.perf_counter()
    entries = {name: zoo.entry(name) for name in MODELS}
    sizes = {e.dataset["splits"]["test"]["image_size"] for e in entries.values()}
    if len(sizes) != 1:
        raise SystemExit(f"the shipped models were tested at different image sizes {sorted(sizes)}")
    size = sizes.pop()
    test = MultiShapes("test", a.scenes, size, seed=a.seed, config=config)
    batch = test.batch(range(a.scenes))
    names = test.class_names
    prior_scenes = MultiShapes("train", a.prior_scenes, size, seed=a.seed, config=config)
    box_wh = mean_box_size(prior_scenes, a.prior_scenes)  # every training creature's box, averaged

    nets = {name: zoo.load(name) for name in MODELS}
    scores: dict[str, MultiObjectScore] = {}
    top_n: dict[str, float] = {}
    beside: dict[str, dict[str, MultiObjectScore | None]] = {}
    for name, net in nets.items():
        maps = scene_maps(net, batch.images, batch.labels, "cam")  # (B, M, H, W)
        scores[name] = score_scene_maps(maps, batch.labels, batch.boxes, names, MODELS[name])
        with evaluation(net), torch.no_grad():
            top_n[name] = top_n_hits(net(batch.images), batch)
        for cls, twin in shapes_twins().items():
            beside[f"{name}: {cls} / {twin}"] = score_beside(
                maps, batch.labels, batch.boxes, names, cls, twin
            )
    prior = prior_scene_maps(batch.labels, size, size, box_wh)
    scores["center"] = score_scene_maps(prior, batch.labels, batch.boxes, names, PRIOR)

    scene = next((i for i in range(a.scenes) if int(batch.counts[i]) == 3), 0)
    k = 4
    fig = show_scene_topk(batch, scene, {n: nets[n] for n in ("gap", "gap_fast", "gmp")}, names, k)
    seconds = time.perf_counter() - t0
    threads = torch.get_num_threads()
    counts = batch.counts.bincount(minlength=4).tolist()
    env = f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} " if "OMP_NUM_THREADS" in os.environ else ""
    command = f"{env}python scripts/multi_object.py " + " ".join(sys.argv[1:] if argv is None else argv)
    doc: dict[str, Any] = {
        "about": "Pointing game and mass share of each present class's map on multi-object scenes (issue 17).",
        "command": command,
        "dataset": test.spec(),
        "seed": a.seed,
        "scenes": a.scenes,
        "scenes_with": {"2": counts[2], "3": counts[3]},
        "fallback_scenes": int(batch.fallback.sum()),
        "objects": int((batch.labels >= 0).sum()),
        "tolerance_px": scores["center"].tolerance,
        "prior_box_wh": box_wh,
        "prior_scenes": a.prior_scenes,
        "models": {
            n: {"sha256": e.sha256, "test_accuracy": e.metrics.get("test_accuracy")}
            for n, e in entries.items()
        },
        "top_n_classes_are_the_scene": top_n,
        "twins": {k: {g: (s.to_dict() if s else None) for g, s in v.items()} for k, v in beside.items()},
        "scores": {n: s.to_dict() for n, s in scores.items()},
        "figure": {"scene": scene, "k": k},
        "seconds": round(seconds, 1),
        "torch_threads": threads,
    }
    md = [
        "# Several objects per image: each class's map against its own box",
        "",
        f"Generated by `{command}` in {seconds:.0f} s ({threads} torch thread{'s' if threads != 1 else ''}, CPU). {a.scenes} test scenes of "
        f"`MultiShapes` (seed {a.seed}, {size} px, the shipped models' size): {counts[2]} with two creatures, "
        f"{counts[3]} with three ({doc['objects']} objects; {doc['fallback_scenes']} of the {a.scenes} scenes fell back "
        f"to two creatures in opposite corners), creatures of different classes, box overlap at most "
        f"{config.max_overlap:g} of the smaller box. The models were trained on ONE creature per image.",
        "",
        f"Per present class, its map (CAM, bilinear to the image) is judged against that class's box: the "
        f"**pointing game** (the map's maximum within {doc['tolerance_px']:.1f} px of the box, issue 18's "
        f"tolerance 15 px at 224 px) and the **mass in own box** (the share of the map's positive mass inside "
        f"the box, mean over objects); **misses on another creature**: the objects whose map misses its own box "
        f"but points at another creature of the scene. The centred prior is one map for every class (its box: the mean box of "
        f"{a.prior_scenes} training scenes, {box_wh[0]:.1f} x {box_wh[1]:.1f} px).",
        "",
        "| method | pointing game (%) | mass in own box (%) | misses on another creature (%) | scenes whose top-n "
        "classes are its n classes (%) |",
        "|---|---|---|---|---|",
    ]
    md += [f"| {s.method} | {s.pointing:.1f} | {s.mass_share:.1f} | {s.on_other:.1f} | "
           f"{f'{top_n[n]:.1f}' if n in top_n else '—'} |" for n, s in scores.items()]  # fmt: skip
    md += [
        "",
        "## Twins side by side",
        "",
        "A firefly is a beetle with a lantern, a shark a fish with a fin. The class's map (pointing game / mass "
        "in own box, %) in the scenes where its twin stands beside it and in those where it does not:",
        "",
        "| network: class / twin | objects with twin | with twin | objects without | without twin |",
        "|---|---|---|---|---|",
    ]
    for key, v in beside.items():
        cells = [(f"{s.objects}", f"{s.pointing:.1f} / {s.mass_share:.1f}") if s else ("0", "—")
                 for s in (v["with"], v["without"])]  # fmt: skip
        md.append(f"| {key} | {cells[0][0]} | {cells[0][1]} | {cells[1][0]} | {cells[1][1]} |")
    md += ["", "## Per class", ""]
    for s in scores.values():
        md += table(s, s.method)
    md += [
        f"Figure: `multi_object_topk.png`, test scene {scene} ({'the first with three creatures' if int(batch.counts[scene]) == 3 else 'no scene has three creatures'}), the top-{k} "
        f"classes of each network with their maps.",
        "",
    ]
    atomic_write(paths[0], lambda t: t.write_text("\n".join(md)), force=a.force, how="--force")
    atomic_write(
        paths[1], lambda t: t.write_text(json.dumps(doc, indent=1) + "\n"), force=a.force, how="--force"
    )
    atomic_write(paths[2], lambda t: fig.savefig(t, dpi=110, format="png"), force=a.force, how="--force")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
