"""One scene of several objects and each network's top-k class maps (the paper's Fig. 4 at small scale)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from matplotlib.figure import Figure
from torch import nn

from camlib.cam import evaluation, normalize
from camlib.data.shapes import SceneBatch
from camlib.localization.multi import scene_maps
from camlib.viz.colours import GT_COLOUR
from camlib.viz.figures import box_patch, overlay


def show_scene_topk(
    batch: SceneBatch,
    i: int,
    nets: Mapping[str, nn.Module],
    names: Sequence[str],
    k: int = 4,
    size: float = 2.0,
) -> Figure:
    """Scene ``i`` of ``batch`` and, per network (one row each), its top-``k`` classes' CAMs, min-max normalised
    per map: the paper's Fig. 4 (the top-5 classes' maps of one image) at small scale.

    A class present in the scene gets its own box (green); a class that is not says so in its title. The
    networks' modes are kept. ``size``: inches per panel.

    >>> from camlib.data.shapes import MultiShapes
    >>> from camlib.models import GAPNet, NetConfig
    >>> scenes = MultiShapes("test", 2, 32).batch(range(2))
    >>> fig = show_scene_topk(scenes, 0, {"random": GAPNet(6, NetConfig((8, 16), 2))}, MultiShapes("test", 2, 32).class_names, k=2)
    >>> len(fig.axes)
    3
    """
    image = batch.images[i]  # (3, H, W)
    n = int(batch.counts[i])
    present = {int(c): batch.boxes[i, j] for j, c in enumerate(batch.labels[i, :n].tolist())}
    fig = Figure(figsize=(size * (k + 1), 1.125 * size * len(nets) + 0.5), layout="constrained")
    axes = fig.subplots(len(nets), k + 1, squeeze=False)
    for r, (name, net) in enumerate(nets.items()):
        with evaluation(net), torch.no_grad():
            probs = net(image[None]).softmax(1)[0]  # (C,)
        top = probs.topk(k).indices  # (k,)
        maps = normalize(scene_maps(net, image[None], top[None]), "minmax")[0]  # (k, H, W)
        ax = axes[r, 0]
        ax.imshow(image.permute(1, 2, 0).numpy())
        for box in present.values():
            ax.add_patch(box_patch(box, GT_COLOUR))
        ax.set_title(f"{name}\nscene: {', '.join(names[c] for c in present)}", fontsize=8)
        for j, c in enumerate(top.tolist()):
            ax = axes[r, j + 1]
            ax.imshow(overlay(image, maps[j]))
            if c in present:
                ax.add_patch(box_patch(present[c], GT_COLOUR))
            where = "in the scene" if c in present else "NOT in the scene"
            ax.set_title(f"top-{j + 1}: {names[c]} (p={float(probs[c]):.2f})\n{where}", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(
        "Top-k class maps of one scene (CAM, min-max per map; green: the class's own box)", fontsize=9
    )
    return fig
