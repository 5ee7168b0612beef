"""Every exercise check accepts a correct answer and rejects typical wrong ones with a hint that names the mistake."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
import torchvision.ops as tvops

from camlib import checks


def _stable_softmax(z: torch.Tensor) -> torch.Tensor:
    e = (z - z.amax(dim=1, keepdim=True)).exp()
    return e / e.sum(dim=1, keepdim=True)


def _iou(a: torch.Tensor, b: torch.Tensor) -> float:
    w = (torch.minimum(a[2], b[2]) - torch.maximum(a[0], b[0])).clamp_min(0)
    h = (torch.minimum(a[3], b[3]) - torch.maximum(a[1], b[1])).clamp_min(0)
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union)


def _box(mask: torch.Tensor) -> torch.Tensor:
    ys, xs = torch.nonzero(mask, as_tuple=True)
    return torch.stack([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]).float()


def _normalize(m: torch.Tensor) -> torch.Tensor:
    lo, hi = m.amin(dim=(-2, -1), keepdim=True), m.amax(dim=(-2, -1), keepdim=True)
    return torch.where(hi > lo, (m - lo) / (hi - lo).clamp_min(1e-12), torch.zeros_like(m))


def _paper_box(cam: torch.Tensor, tau: float, connectivity: int = 2) -> torch.Tensor:
    """Independent reference: torchvision masks_to_boxes on the largest scipy component."""
    from scipy import ndimage

    labels, n = ndimage.label(
        (cam >= tau).numpy(), structure=ndimage.generate_binary_structure(2, connectivity)
    )
    if n == 0:
        return torch.zeros(4)
    sizes = [(labels == i).sum() for i in range(1, n + 1)]
    best = torch.from_numpy(labels == 1 + max(range(n), key=lambda i: sizes[i]))
    return tvops.masks_to_boxes(best[None])[0] + torch.tensor([0.0, 0, 1, 1])


def _scale(box: torch.Tensor, old: tuple[int, int], new: tuple[int, int]) -> torch.Tensor:
    return box * torch.tensor([new[1] / old[1], new[0] / old[0]] * 2)


CASES: list[tuple[Callable[[Any], bool], Any, list[tuple[Any, str]]]] = [
    (
        checks.check_softmax,
        _stable_softmax,
        [
            (lambda z: torch.softmax(z, dim=0), "dim=1"),
            (lambda z: z.exp() / z.exp().sum(dim=1, keepdim=True), "subtract each row's max"),
            (lambda z: z / z.sum(dim=1, keepdim=True), "exponentiate first"),
        ],
    ),
    (
        checks.check_accuracy,
        lambda z, y: float((z.argmax(1) == y).float().mean() * 100),
        [
            (lambda z, y: float((z.argmax(1) == y).float().mean()), "multiply by 100"),
            (lambda z, y: float((z.argmax(1) == y).sum()), "divide the number of correct"),
        ],
    ),
    (
        checks.check_fc_params,
        lambda k, h, w, n: (k * h * w + 1) * n,
        [(lambda k, h, w, n: k * h * w * n, "bias"), (lambda k, h, w, n: (k + 1) * n, "every position")],
    ),
    (
        checks.check_gap,
        lambda f: torch.nn.AdaptiveAvgPool2d(1)(f).flatten(1),
        [
            (lambda f: f.sum(dim=(-2, -1)), "take the mean"),
            (lambda f: f.amax(dim=(-2, -1)), "global MAX pooling"),
            (lambda f: f.mean(dim=1), "not over the channels"),
        ],
    ),
    (
        checks.check_cam,
        lambda f, w, c: (w[c].view(1, -1, 1, 1) * f).sum(1),
        [
            (lambda f, w, c: (w[c].view(1, -1, 1, 1) * f).sum(1).relu(), "no ReLU"),
            (lambda f, w, c: f.sum(1), "weigh each channel"),
            (lambda f, w, c: (w[:, c].view(1, -1, 1, 1) * f).sum(1), "row weight[c]"),
        ],
    ),
    (
        checks.check_normalize,
        _normalize,
        [
            (lambda m: m / m.amax(dim=(-2, -1), keepdim=True), "subtract the minimum"),
            (
                lambda m: (
                    (m - m.amin((-2, -1), keepdim=True))
                    / (m.amax((-2, -1), keepdim=True) - m.amin((-2, -1), keepdim=True))
                ),
                "0/0 is NaN",
            ),
        ],
    ),
    (
        checks.check_box_from_mask,
        _box,
        [
            (lambda m: tvops.masks_to_boxes(m[None])[0], "exclusive"),
            (lambda m: _box(m)[[1, 0, 3, 2]], "XYXY"),
            (lambda m: torch.cat([_box(m)[:2], _box(m)[2:] - _box(m)[:2]]), "not (x, y, width, height)"),
        ],
    ),
    (
        checks.check_iou,
        _iou,
        [
            (lambda a, b: float(tvops.box_iou(a[None], b[None])[0, 0]) / 2 if _iou(a, b) < 0.9 else 1.0, ""),
            (lambda a, b: _iou(a, b) * 0 + 0.5, ""),
        ],
    ),
    (
        checks.check_scale_box,
        _scale,
        [
            (lambda b, o, n: b * torch.tensor([n[0] / o[0], n[1] / o[1]] * 2), "WIDTH"),
            (lambda b, o, n: b * (n[0] / o[0]), "scale differently"),
        ],
    ),
    (
        checks.check_box_at_threshold,
        _paper_box,
        [
            (lambda m, t: _paper_box(m, t, connectivity=1), "8-connectivity"),
            (lambda m, t: _box(m >= t) if bool((m >= t).any()) else torch.zeros(4), "LARGEST component"),
            (lambda m, t: _paper_box(m, t) - torch.tensor([0.0, 0, 1, 1]), "exclusive"),
        ],
    ),
    (
        checks.check_grad_cam,
        lambda a, g: (g.mean(dim=(-2, -1))[..., None, None] * a).sum(1).relu(),
        [
            (lambda a, g: (g.mean(dim=(-2, -1))[..., None, None] * a).sum(1), "ReLU"),
            (lambda a, g: (a * g).sum(1).relu(), "MEAN gradient"),
            (lambda a, g: (g.sum(dim=(-2, -1))[..., None, None] * a).sum(1).relu(), "h*w times too large"),
        ],
    ),
]


@pytest.mark.parametrize(("check", "correct", "wrong"), CASES, ids=[c[0].__name__ for c in CASES])
def test_check_accepts_correct_and_rejects_typical_mistakes(
    check: Callable[[Any], bool],
    correct: Any,
    wrong: list[tuple[Any, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert check(correct) is True
    assert "✅" in capsys.readouterr().out
    assert len(wrong) >= 2
    for fn, hint in wrong:
        assert check(fn) is False
        out = capsys.readouterr().out
        assert "❌" in out and hint in out, out


def test_iou_hints_name_the_union_mistakes(capsys: pytest.CaptureFixture[str]) -> None:
    def no_minus(a: torch.Tensor, b: torch.Tensor) -> float:
        w = (torch.minimum(a[2], b[2]) - torch.maximum(a[0], b[0])).clamp_min(0)
        h = (torch.minimum(a[3], b[3]) - torch.maximum(a[1], b[1])).clamp_min(0)
        return float(w * h / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])))

    def no_clamp(a: torch.Tensor, b: torch.Tensor) -> float:
        w = torch.minimum(a[2], b[2]) - torch.maximum(a[0], b[0])
        h = torch.minimum(a[3], b[3]) - torch.maximum(a[1], b[1])
        inter = w * h
        return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))

    assert not checks.check_iou(no_minus)
    assert "MINUS the intersection" in capsys.readouterr().out
    assert not checks.check_iou(no_clamp)
    assert "clamp the overlap" in capsys.readouterr().out


def test_learner_exception_is_a_hint_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    def broken(f: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("write your code here")

    assert checks.check_gap(broken) is False
    assert "raised NotImplementedError: write your code here" in capsys.readouterr().out
