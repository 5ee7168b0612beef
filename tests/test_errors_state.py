"""Issue 16, acceptance 3: no camlib function changes a model's mode, its parameters (or BatchNorm statistics),
their ``requires_grad``, or a learner's tensors in place, unless its docstring says so (``fit`` trains,
``train_mode`` sets modes). Checked on every map method, the explorer, ``gapify``, ``evaluate`` and the
post-processing of maps."""

from __future__ import annotations

import copy

import pytest
import torch
import torchvision
from error_cases import TINY, images
from torch import nn

from camlib.boxes import all_component_boxes, largest_component_box
from camlib.cam import METHODS, normalize, upsample
from camlib.data import Sample
from camlib.explorer import CAMExplorer
from camlib.models import GAPNet, gapify
from camlib.train import evaluate


def learner_model() -> GAPNet:
    """What a learner holds mid-notebook: train mode, one BatchNorm put in eval by hand, a frozen first conv,
    non-trivial BatchNorm statistics."""
    torch.manual_seed(0)
    model = GAPNet(6, TINY).train()
    with torch.no_grad():
        model(torch.rand(8, 3, 32, 32))
    model.features[1].eval()  # a BatchNorm2d
    model.features[0].weight.requires_grad_(False)
    return model


def snapshot(model: nn.Module) -> tuple[list[bool], list[bool], dict[str, torch.Tensor], int]:
    hooks = sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules()
    )
    return (
        [m.training for m in model.modules()],
        [p.requires_grad for p in model.parameters()],
        {k: v.detach().clone() for k, v in model.state_dict().items()},
        hooks,
    )


def assert_unchanged(
    model: nn.Module, before: tuple[list[bool], list[bool], dict[str, torch.Tensor], int]
) -> None:
    modes, flags, state, hooks = snapshot(model)
    assert modes == before[0], "a module's train/eval mode changed"
    assert flags == before[1], "a parameter's requires_grad changed"
    assert state.keys() == before[2].keys() and all(torch.equal(state[k], before[2][k]) for k in state), (
        "a parameter or buffer (BatchNorm statistics) changed"
    )
    assert hooks == before[3] == 0, "a hook was left on the model"
    assert all(p.grad is None for p in model.parameters()), "a parameter got a .grad"


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("classes", [None, 2, [0, 1, 2, 3], [[1, 4]]])
def test_map_methods_change_nothing(method: str, classes: object) -> None:
    model = learner_model()
    before = snapshot(model)
    x = images()
    x_copy, version = x.clone(), x._version
    out = METHODS[method](model, x, classes)  # type: ignore[arg-type]
    assert_unchanged(model, before)
    assert torch.equal(x, x_copy) and x._version == version and not x.requires_grad and x.grad is None
    assert not out.maps.requires_grad
    maps = out.maps.clone()
    upsample(out.maps, 32)
    normalize(out.maps)
    largest_component_box(out.maps[:, 0], 0.2)
    all_component_boxes(out.maps[:, 0], 0.2)
    assert torch.equal(out.maps, maps)  # post-processing leaves the maps alone


def test_map_methods_restore_the_mode_after_an_error() -> None:
    model = learner_model()
    before = snapshot(model)
    for fn in METHODS.values():
        with pytest.raises(ValueError, match="out of range"):
            fn(model, images(), 99)
        with pytest.raises(ValueError, match="NaN"):
            fn(model, images() * float("nan"))
        assert_unchanged(model, before)


def test_explorer_changes_neither_the_model_nor_the_samples() -> None:
    model = learner_model()
    before = snapshot(model)
    samples = [Sample(images(1)[0] * 0 + i / 10, i % 6, torch.tensor([2.0, 2, 20, 20])) for i in range(6)]
    kept = [(s.image.clone(), s.box.clone()) for s in samples]  # type: ignore[union-attr]
    app = CAMExplorer({"GAP": model, "again": model}, samples, method="gradcam")
    app.show(index=3, cls=1, tau=0.5)
    app.show(normalised=False, upsample="nearest")
    app.snapshot(indices=[0, 1])
    assert_unchanged(model, before)
    assert all(
        torch.equal(s.image, i) and torch.equal(s.box, b) for s, (i, b) in zip(samples, kept, strict=True)
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "ctor", [torchvision.models.resnet18, torchvision.models.vgg11, torchvision.models.squeezenet1_1]
)
def test_gapify_returns_a_new_model_and_leaves_the_argument(ctor: object) -> None:
    torch.manual_seed(0)
    model = ctor(weights=None)  # type: ignore[operator]
    model.train()
    for p in list(model.parameters())[:2]:
        p.requires_grad_(False)
    children = dict(model.named_children())
    before = snapshot(model)
    new = gapify(model, 5)
    assert new is not model and dict(model.named_children()) == children  # no layer replaced in place
    assert_unchanged(model, before)
    assert not {p.data_ptr() for p in model.parameters()} & {p.data_ptr() for p in new.parameters()}
    assert new.training  # the argument's mode
    with torch.no_grad():
        for p in new.parameters():
            p.add_(1.0)  # training the result...
    assert_unchanged(model, before)  # ...leaves the original as it was


def test_gapify_of_a_course_model_copies_it() -> None:
    model = learner_model()
    before = snapshot(model)
    new = gapify(model, 3)
    assert new.classifier.out_features == 3 and new.features is not model.features
    assert_unchanged(model, before)


def test_evaluate_gives_every_module_its_own_mode_back() -> None:
    model = learner_model()  # a linear probe mid-training: train mode, a frozen BatchNorm in eval
    before = snapshot(model)
    samples = [Sample(images(1)[0], i % 6) for i in range(4)]
    evaluate(model, samples, batch_size=2)
    assert_unchanged(model, before)


def test_a_model_copied_after_a_map_call_is_the_same_model() -> None:
    model = learner_model()
    METHODS["cam"](model, images())
    twin = copy.deepcopy(learner_model())
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), twin.state_dict().values(), strict=True)
    )
