"""The words of the course's figures: a predicted class with ✓ (right) or ✗ (wrong) beside the true one.

>>> prediction_titles([1, 0], [1, 1], ["fish", "shark"])
['shark ✓', 'fish ✗ (true: shark)']
>>> prediction_titles([1], [1], ["fish", "shark"], prefix="predicts ")
['predicts shark ✓']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def verdict(pred: int, label: int, class_names: Sequence[str], prefix: str = "", sep: str = " ") -> str:
    """``"shark ✓"`` or ``"fish ✗ (true: shark)"``; an unlabelled image (label outside the classes) gets no mark."""
    name = f"{prefix}{class_names[pred]}"
    if not 0 <= label < len(class_names):
        return name
    return f"{name} ✓" if pred == label else f"{name} ✗{sep}(true: {class_names[label]})"


def prediction_titles(
    preds: Sequence[int] | Any, labels: Sequence[int] | Any, class_names: Sequence[str], prefix: str = "",
    sep: str = " ",
) -> list[str]:  # fmt: skip
    """One :func:`verdict` per image, from (B,) predicted classes and (B,) true labels (ints or tensors).

    Raises:
        ValueError: when the numbers of predictions and labels differ.
    """
    p, t = [int(v) for v in preds], [int(v) for v in labels]
    if len(p) != len(t):
        raise ValueError(f"got {len(p)} predictions for {len(t)} labels: pass one of each per image")
    return [verdict(a, b, class_names, prefix, sep) for a, b in zip(p, t, strict=True)]


__all__ = ["prediction_titles", "verdict"]
