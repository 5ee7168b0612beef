"""The model-parameter randomisation test (Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018).

A map that explains the model must change when the model's learned weights are replaced by random ones. The test
compares each image's map from the trained model with its map from a randomised copy by the **Spearman rank
correlation of the absolute maps** (Adebayo et al., Sec. 3: absolute values, because a signed map's sign can flip
with the weights). A score near 1 means the map hardly depends on what the model learned (it fails the check, as
edge detectors do); near 0, the map is about the weights. Ranks of tied values are averaged (as
``scipy.stats.spearmanr``); a constant map has no ranks to correlate: NaN.

:func:`randomized_copy` re-initialises a copy of the model: every layer (the paper's cascade down to the input),
or only the ``top`` last ones (one step of the cascade).
"""

from __future__ import annotations

import copy
import math

import torch
from scipy.stats import rankdata
from torch import Tensor, nn

from camlib.cam import Classes, MapMethod, get_method


def spearman(a: Tensor, b: Tensor) -> Tensor:
    """Spearman rank correlation of each pair of rows: (B, ...) and (B, ...) -> (B,) (NaN for a constant row).

    >>> spearman(torch.tensor([[1.0, 2, 3, 4]]), torch.tensor([[10.0, 20, 30, 40]])).tolist()
    [1.0]
    >>> spearman(torch.tensor([[1.0, 1, 2]]), torch.tensor([[1.0, 2, 3]])).tolist()  # ranks 1.5 1.5 3
    [0.8660253882408142]
    """
    if a.shape != b.shape or a.dim() < 2:
        raise ValueError(
            f"a and b must have the same (B, ...) shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    ra, rb = (
        torch.from_numpy(rankdata(t.detach().flatten(1).double().cpu().numpy(), axis=1)) for t in (a, b)
    )  # (B, n) average ranks
    ra, rb = ra - ra.mean(1, keepdim=True), rb - rb.mean(1, keepdim=True)
    den = (ra.square().sum(1) * rb.square().sum(1)).sqrt()  # (B,)
    rho = (ra * rb).sum(1) / den  # 0 / 0 = NaN for a constant row
    return rho.float().to(a.device)


def randomized_copy(model: nn.Module, *, seed: int = 0, top: int | None = None) -> nn.Module:
    """A copy of ``model`` with freshly initialised weights (the model itself and the global RNG are untouched).

    Args:
        model: the trained network.
        seed: the seed of the new weights.
        top: re-initialise only the last ``top`` modules that have parameters (in registration order, the
            classifier last): one step of Adebayo et al.'s cascading randomisation; default every one.

    Every module with a ``reset_parameters`` method (convolutions, linear layers, BatchNorm — whose running
    statistics go back to 0 and 1) is reset as PyTorch initialises it.

    >>> net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    >>> new = randomized_copy(net, top=1)
    >>> torch.equal(new[0].weight, net[0].weight), torch.equal(new[1].weight, net[1].weight)
    (True, False)
    """
    new = copy.deepcopy(model)
    layers = [m for m in new.modules() if callable(getattr(m, "reset_parameters", None))]
    if top is not None:
        if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= len(layers):
            raise ValueError(
                f"top must be an integer in 1..{len(layers)} (layers with parameters), got {top!r}"
            )
        layers = layers[-top:]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for m in layers:
            m.reset_parameters()  # type: ignore[operator]
    return new


def randomization_scores(
    method: str | MapMethod,
    model: nn.Module,
    random_model: nn.Module,
    x: Tensor,
    classes: Classes = None,
) -> Tensor:
    """(B,) Spearman correlations of the absolute maps of ``model`` and ``random_model`` (lower is better).

    Both maps are for the same ``classes`` (default: the TRAINED model's prediction) at the method's own
    resolution; NaN where either map is constant.

    Example:
        >>> from camlib.models import GAPNet, NetConfig
        >>> net = GAPNet(6, NetConfig(widths=(8, 16), downsample=2)).eval()
        >>> randomization_scores("gradcam", net, randomized_copy(net), torch.rand(2, 3, 32, 32)).shape
        torch.Size([2])
    """
    fn = get_method(method) if isinstance(method, str) else method
    trained = fn(model, x, classes)
    random = fn(random_model, x, trained.classes)
    if trained.maps.shape[1] != 1:
        raise ValueError(
            "pass one class per image (classes of shape (B,)): the score compares one map per image"
        )
    return spearman(trained.maps[:, 0].abs(), random.maps[:, 0].abs())


def mean_defined(scores: Tensor) -> tuple[float, int]:
    """The mean of the defined (non-NaN) scores and how many there were.

    >>> mean_defined(torch.tensor([0.5, float("nan"), 0.25]))
    (0.375, 2)
    """
    ok = ~torch.isnan(scores)
    n = int(ok.sum())
    return (float(scores[ok].mean()) if n else math.nan), n
