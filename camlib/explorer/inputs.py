"""What the explorer accepts: models (one, a dict, a list), their map methods, and the images to explore."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from camlib.cam import (
    MapMethod,
    default_method,
    evaluation,
    find_cam_head,
    get_method,
    has_cam_head,
    method_name,
)
from camlib.data.sample import Batch, SampleDataset
from camlib.explorer.options import Method


def resolve_method(model: nn.Module, method: Method | None) -> tuple[str, MapMethod]:
    """``(name, function)`` of a map method for ``model``; ``None`` picks :func:`camlib.cam.default_method`.

    Raises:
        ValueError: an unknown name, or ``"cam"`` for a model without a GAP + linear head.
    """
    if method is None:
        method = default_method(model)
    if callable(method):
        return method_name(method), method
    fn = get_method(method)
    if method == "cam" and not has_cam_head(model):
        find_cam_head(model)  # raises the explanation: no GAP head, use gradcam
    return method, fn


def as_models(models: nn.Module | Mapping[str, nn.Module] | Sequence[nn.Module]) -> dict[str, nn.Module]:
    if isinstance(models, nn.Module):
        return {type(models).__name__: models}
    if isinstance(models, Mapping):
        out = dict(models)
    else:
        out = {f"model {i}": m for i, m in enumerate(models)}
    if not out or not all(isinstance(m, nn.Module) for m in out.values()):
        raise TypeError(
            "pass a model, a {name: model} dict (e.g. {'GAP': gap, 'GMP': gmp}) or a list of models"
        )
    return out


def load_images(dataset: SampleDataset, indices: Sequence[int], batch_size: int) -> Batch:
    """The images, labels and boxes of ``indices`` as one CPU :class:`Batch` (masks dropped)."""
    parts = [
        dataset.batch(list(indices[s : s + batch_size])).to("cpu") for s in range(0, len(indices), batch_size)
    ]

    def cat(name: str) -> Tensor | None:
        vals = [getattr(p, name) for p in parts]
        if all(v is None for v in vals):
            return None
        if name == "part_boxes":
            vals = [
                torch.full((len(p), 4), math.nan) if v is None else v
                for p, v in zip(parts, vals, strict=True)
            ]
        return None if any(v is None for v in vals) else torch.cat(vals)

    return Batch(
        torch.cat([p.images for p in parts]),
        torch.cat([p.labels for p in parts]),
        cat("boxes"),
        None,
        cat("part_boxes"),
    )


def common_num_classes(models: Mapping[str, nn.Module], x: Tensor) -> int:
    """The models' common number of classes (from the CAM head, else one forward pass of one image)."""
    sizes = {}
    for n, m in models.items():
        if has_cam_head(m):
            sizes[n] = int(find_cam_head(m).linear.out_features)
        else:
            with evaluation(m), torch.no_grad():
                sizes[n] = int(m(x.to(next(m.parameters()).device)).shape[1])  # (1, C)
    if len(set(sizes.values())) != 1:
        raise ValueError(f"all models must have the same classes; got {sizes}")
    return next(iter(sizes.values()))
