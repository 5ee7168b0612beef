"""The exercise self-checks: ✅ on right answers, ❌ naming each typical mistake, ⏳ on stubs, and safe calls.

Every check of ``camlib.checks.CATALOGUE`` is covered automatically: its reference passes, EACH of its
``Mistake``s is rejected with its own message, a stub is "not attempted", an in-place change of an input is named,
and its cases are never changed. Independent right answers (written another way than the references) pass too.
"""

from __future__ import annotations

import copy
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torchvision.ops as tvops
from independent_beyond import INDEPENDENT as BEYOND  # the checks of beyond.py
from independent_explorer import INDEPENDENT as EXPLORER  # the checks of explorer.py
from independent_maps_metrics import INDEPENDENT as MAPS_AND_METRICS  # the checks of maps.py, metrics.py
from independent_microscope import INDEPENDENT as MICROSCOPE  # the checks of microscope.py

from camlib import checks
from camlib.checks import CATALOGUE, CheckSpec

SPECS = list(CATALOGUE.values())
MISTAKES = [(spec, m) for spec in SPECS for m in spec.mistakes]
WITH_TENSORS = [s for s in SPECS if any(isinstance(a, torch.Tensor) for a in s.cases[0])]  # can be changed


def _check(spec: CheckSpec) -> Callable[..., checks.CheckResult]:
    return getattr(checks, spec.name)  # the public function the notebooks call


def test_every_public_check_has_a_spec_in_the_catalogue() -> None:
    public = {name for name in checks.__all__ if name.startswith("check_")}
    assert public == set(CATALOGUE), "add the new check's CheckSpec to its module's SPECS"
    assert all(name == spec.name for name, spec in CATALOGUE.items())


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_reference_is_correct_and_prints_one_verdict(
    spec: CheckSpec, capsys: pytest.CaptureFixture[str]
) -> None:
    result = _check(spec)(spec.reference)
    out = capsys.readouterr().out
    assert bool(result) and result.status == "correct" and result.cases == len(spec.cases)
    assert out == f"✅ {spec.name}: correct on {len(spec.cases)} cases.\n"


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_each_check_knows_at_least_two_distinct_mistakes(spec: CheckSpec) -> None:
    hints = [m.hint for m in spec.mistakes]
    assert len(hints) >= 2 and len(set(hints)) == len(hints), hints


@pytest.mark.parametrize(
    ("spec", "mistake"), MISTAKES, ids=[f"{s.name}-{i}" for s in SPECS for i in range(len(s.mistakes))]
)
def test_each_mistake_is_rejected_with_its_own_message(
    spec: CheckSpec, mistake: checks.Mistake, capsys: pytest.CaptureFixture[str]
) -> None:
    result = _check(spec)(mistake.compute)
    out = capsys.readouterr().out
    assert not result and result.status == "wrong"
    assert f"Mistake: {mistake.hint}" in out, out
    others = [m.hint for m in spec.mistakes if m is not mistake]
    assert not any(f"Mistake: {h}" in out for h in others), out
    assert out.count("❌") == 1 and out == result.message + "\n"


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_a_stub_is_not_attempted_and_names_the_function(
    spec: CheckSpec, capsys: pytest.CaptureFixture[str]
) -> None:
    def my_function(*args: Any) -> Any:
        raise NotImplementedError("exercise: write the body of my_function")

    result = _check(spec)(my_function)
    assert result.status == "not attempted" and not result
    assert capsys.readouterr().out == (
        f"⏳ {spec.name}: not attempted yet: write the body of my_function() above — hints are in the cell "
        "under the exercise.\n"
    )


@pytest.mark.parametrize("spec", WITH_TENSORS, ids=lambda s: s.name)
def test_an_in_place_change_of_an_input_is_reported_and_never_reaches_the_cases(spec: CheckSpec) -> None:
    before = copy.deepcopy(list(spec.cases))

    def sneaky(*args: Any) -> Any:
        answer = spec.reference(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args])
        first = next(i for i, a in enumerate(args) if isinstance(a, torch.Tensor))
        if args[first].dtype == torch.bool:
            args[first].logical_not_()
        else:
            args[first].add_(1)  # the right answer, but the caller's tensor is changed
        return answer

    result = spec.run(sneaky, verbose=False)
    first = next(i for i, a in enumerate(spec.cases[0]) if isinstance(a, torch.Tensor))
    name = (
        "args" if first == 0 else f"argument {first + 1}"
    )  # sneaky(*args): later ones are named by position
    assert result.status == "wrong" and f"changed its argument `{name}` in place" in result.message
    for case, original in zip(spec.cases, before, strict=True):  # the check's own cases are untouched
        for a, b in zip(case, original, strict=True):
            assert _same(a, b)


def _same(a: Any, b: Any) -> bool:
    """Equal values, looking inside lists and tuples of tensors (a case's list of GT boxes)."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, torch.nn.Module):  # a model handed to the learner: its weights
        sa, sb = a.state_dict(), b.state_dict()
        return type(a) is type(b) and sa.keys() == sb.keys() and all(_same(sa[k], sb[k]) for k in sa)
    return bool(a == b)


def test_mutation_names_the_learners_argument() -> None:
    def softmax(logits: torch.Tensor) -> torch.Tensor:
        logits -= logits.max(dim=1, keepdim=True).values  # in place: changes the caller's tensor
        e = logits.exp()
        return e / e.sum(dim=1, keepdim=True)

    result = checks.check_softmax(softmax)
    assert result.status == "wrong"
    assert "softmax() changed its argument `logits` in place" in result.message
    assert "logits = logits.clone()" in result.message


@pytest.mark.parametrize(
    "body",
    ["...", "pass", '"""Only a docstring."""', '"""Docstring."""\n    ...'],
    ids=["ellipsis", "pass", "docstring", "docstring-ellipsis"],
)
def test_empty_bodies_are_not_attempted(body: str, tmp_path: Any) -> None:
    path = tmp_path / "learner.py"  # a real file, so that inspect can read the function's source
    path.write_text(f"def global_average_pool(features):\n    {body}\n")
    namespace: dict[str, Any] = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    result = checks.check_gap(namespace["global_average_pool"])
    assert result.status == "not attempted"
    assert "write the body of global_average_pool()" in result.message


def test_returning_ellipsis_is_not_attempted() -> None:
    assert checks.check_gap(lambda f: ...).status == "not attempted"


def test_an_exception_shows_the_learners_own_line_and_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    def softmax(logits: torch.Tensor) -> torch.Tensor:
        e = logits.exp()
        return e / e.sum(dim=2, keepdim=True)  # dim 2 does not exist

    result = checks.check_softmax(softmax)
    out = capsys.readouterr().out
    assert result.status == "error" and not result
    assert "softmax() raised IndexError on case 1 of 3 (logits: a (1, 3) float32 tensor" in out
    assert "in softmax: return e / e.sum(dim=2, keepdim=True)" in out
    assert "Hint: an index is out of range" in out
    assert "Traceback" not in out and "camlib" not in out and "site-packages" not in out


def test_an_exception_inside_torch_points_at_the_learners_line_not_at_torch() -> None:
    def cam_sum(features: torch.Tensor, weight: torch.Tensor, c: int) -> torch.Tensor:
        return torch.einsum("k,bkhw->bhw", weight, features)  # the whole (C, K) matrix: einsum refuses

    result = checks.check_cam(cam_sum)
    assert result.status == "error"
    assert 'in cam_sum: return torch.einsum("k,bkhw->bhw", weight, features)' in result.message
    assert "torch/" not in result.message


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (lambda z, y: str(float((z.argmax(1) == y).float().mean() * 100)), "returned a str ('50.0')"),
        (lambda z, y: (z.argmax(1) == y).float() * 100, "returned a (4,) float32 tensor"),
        (lambda z, y: None, "returned None: did you forget the `return`?"),
        (lambda z, y: True, "returned a bool (True)"),
        (lambda z, y: [50.0], "returned a list"),
    ],
    ids=["str", "tensor-of-4", "none", "bool", "list"],
)
def test_a_result_that_is_not_a_number_is_rejected(answer: Any, words: str) -> None:
    result = checks.check_accuracy(answer)
    assert result.status == "wrong" and words in result.message, result.message


def test_a_zero_dim_tensor_or_numpy_number_is_a_number() -> None:
    assert checks.check_accuracy(lambda z, y: (z.argmax(1) == y).float().mean() * 100)
    assert checks.check_iou(lambda a, b: tvops.box_iou(a[None], b[None])[0, 0].numpy())


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (
            lambda f: f.mean(dim=(-2, -1)).numpy(),
            "returned a numpy.ndarray; the exercise asks for a torch.Tensor",
        ),
        (lambda f: f.mean(dim=(-2, -1)).tolist(), "returned a list; the exercise asks for a torch.Tensor"),
        (
            lambda f: f.mean(dim=(-2, -1)).long(),
            "returned an int64 tensor; the exercise asks for floating-point",
        ),
    ],
    ids=["numpy", "list", "int64"],
)
def test_a_result_of_the_wrong_kind_is_rejected(answer: Any, words: str) -> None:
    result = checks.check_gap(answer)
    assert result.status == "wrong" and words in result.message, result.message


def test_an_unknown_wrong_answer_gets_a_precise_description() -> None:
    result = checks.check_gap(lambda f: f.mean(dim=(-2, -1)) + 0.01)
    assert "It differs by up to 0.01 (at index [0, 1])" in result.message
    result = checks.check_gap(lambda f: f.flatten(1))
    assert "The shape is (1, 8) but should be (1, 2)." in result.message
    result = checks.check_normalize(lambda m: m * float("nan"))
    assert "NaN where the expected values are numbers" in result.message


def test_an_infinite_loop_is_stopped_and_the_timer_restored() -> None:
    def my_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
        while True:
            try:
                time.sleep(0.01)
            except Exception:  # a learner's broad except must not swallow the time limit
                pass

    handler = signal.getsignal(signal.SIGALRM)
    t0 = time.monotonic()
    result = CATALOGUE["check_accuracy"].run(my_accuracy, verbose=False, time_limit_s=0.3)
    assert time.monotonic() - t0 < 5
    assert (
        result.status == "error" and "my_accuracy() took longer than 0.3 s on case 1 of 2" in result.message
    )
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0) and signal.getsignal(signal.SIGALRM) == handler
    assert checks.TIME_LIMIT_S == 10


def test_off_the_main_thread_the_check_runs_without_a_limit() -> None:
    results: list[checks.CheckResult] = []
    worker = threading.Thread(target=lambda: results.append(checks.check_gap(lambda f: f.mean(dim=(-2, -1)))))
    worker.start()
    worker.join(timeout=60)
    assert results and results[0].status == "correct"


def test_passing_a_value_instead_of_the_function_is_explained() -> None:
    result = checks.check_gap(torch.zeros(2))  # type: ignore[arg-type]
    assert result.status == "error" and "Pass the function itself, without calling it" in result.message


def test_the_result_is_truthy_only_when_correct_and_displays_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    right = checks.check_gap(lambda f: f.mean(dim=(-2, -1)))
    wrong = checks.check_gap(lambda f: f.sum(dim=(-2, -1)))
    capsys.readouterr()
    assert right and not wrong and repr(right) == "CheckResult('check_gap', 'correct')"
    assert str(wrong) == wrong.message
    assert right._ipython_display_() is None and capsys.readouterr().out == ""  # the verdict is printed once


# --- right answers written another way than the references ----------------------------------------------


def _stable_softmax(z: torch.Tensor) -> torch.Tensor:
    e = (z - z.amax(dim=1, keepdim=True)).exp()
    return e / e.sum(dim=1, keepdim=True)


def _iou(a: torch.Tensor, b: torch.Tensor) -> float:
    w = (torch.minimum(a[2], b[2]) - torch.maximum(a[0], b[0])).clamp_min(0)
    h = (torch.minimum(a[3], b[3]) - torch.maximum(a[1], b[1])).clamp_min(0)
    inter = w * h
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))


def _box(mask: torch.Tensor) -> torch.Tensor:
    ys, xs = torch.nonzero(mask, as_tuple=True)
    return torch.stack([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]).float()


def _normalize(m: torch.Tensor) -> torch.Tensor:
    lo, hi = m.amin(dim=(-2, -1), keepdim=True), m.amax(dim=(-2, -1), keepdim=True)
    return torch.where(hi > lo, (m - lo) / (hi - lo).clamp_min(1e-12), torch.zeros_like(m))


def _paper_box(cam: torch.Tensor, tau: float) -> torch.Tensor:
    """Independent reference: torchvision masks_to_boxes on the largest scipy component."""
    from scipy import ndimage

    labels, n = ndimage.label((cam >= tau).numpy(), structure=ndimage.generate_binary_structure(2, 2))
    if n == 0:
        return torch.zeros(4)
    sizes = [(labels == i).sum() for i in range(1, n + 1)]
    best = torch.from_numpy(labels == 1 + max(range(n), key=lambda i: sizes[i]))
    return tvops.masks_to_boxes(best[None])[0] + torch.tensor([0.0, 0, 1, 1])


def _cam_scores(f: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    maps = (w[None, :, :, None, None] * f[:, None]).sum(2)  # (B, C, K, h, w) summed over K
    return maps, maps.flatten(2).mean(2) + b


def _batch_boxes(masks: torch.Tensor) -> torch.Tensor:
    return torch.stack([_box(m) for m in masks])


def _fc_head_params(k: int, grid: int, hidden: tuple[int, ...], c: int) -> int:
    widths = (k * grid * grid, *hidden, c)
    return sum((i + 1) * o for i, o in zip(widths, widths[1:], strict=False))


def _capture_features(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    kept: dict[str, torch.Tensor] = {}
    handle = model.layer4.register_forward_hook(lambda m, i, out: kept.update(out=out.detach()))
    training = model.training
    model.eval()
    try:
        model(images)
    finally:
        handle.remove()
        model.train(training)
    return kept["out"]


def _gapify_vgg(vgg: torch.nn.Module, num_classes: int) -> torch.nn.Module:
    from camlib.models import GlobalPoolNet

    layers = list(copy.deepcopy(vgg.features))
    last = max(i for i, m in enumerate(layers) if isinstance(m, torch.nn.Conv2d))
    trunk = torch.nn.Sequential(
        *layers[: last + 2], torch.nn.Conv2d(512, 1024, 3, padding=1), torch.nn.ReLU()
    )
    return GlobalPoolNet(trunk, 1024, num_classes).train(vgg.training)


def _amp_step(model: Any, optimizer: Any, scaler: Any, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.train()
    optimizer.zero_grad()
    with torch.autocast("cpu"):
        loss = torch.nn.functional.cross_entropy(model(images), labels)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return loss.item()


INDEPENDENT: dict[str, Callable[..., Any]] = {
    "check_softmax": _stable_softmax,
    "check_accuracy": lambda z, y: (
        100.0 * sum(int(r.argmax()) == int(t) for r, t in zip(z, y, strict=True)) / len(y)
    ),
    "check_fc_params": lambda k, h, w, n: (k * h * w + 1) * n,
    "check_gap": lambda f: torch.nn.AdaptiveAvgPool2d(1)(f).flatten(1),
    "check_cam": lambda f, w, c: (w[c].view(1, -1, 1, 1) * f).sum(1),
    "check_normalize": _normalize,
    "check_grad_cam": lambda a, g: (g.mean(dim=(-2, -1))[..., None, None] * a).sum(1).relu(),
    "check_box_from_mask": _box,
    "check_iou": _iou,
    "check_scale_box": lambda b, o, n: b * torch.tensor([n[1] / o[1], n[0] / o[0]] * 2),
    "check_box_at_threshold": _paper_box,
    **MAPS_AND_METRICS,
    "check_cam_scores": _cam_scores,
    "check_batch_boxes": _batch_boxes,
    "check_fc_head_params": _fc_head_params,
    "check_capture_features": _capture_features,
    "check_gapify_vgg": _gapify_vgg,
    "check_amp_step": _amp_step,
    **BEYOND,
    **EXPLORER,
    **MICROSCOPE,
}


def test_every_check_has_an_independent_right_answer() -> None:
    assert set(INDEPENDENT) == set(CATALOGUE)


@pytest.mark.parametrize("name", sorted(INDEPENDENT))
def test_a_right_answer_written_another_way_passes(name: str) -> None:
    result = getattr(checks, name)(INDEPENDENT[name])
    assert result.status == "correct", result.message


def test_iou_hints_name_the_union_mistakes() -> None:
    def no_minus(a: torch.Tensor, b: torch.Tensor) -> float:
        w = (torch.minimum(a[2], b[2]) - torch.maximum(a[0], b[0])).clamp_min(0)
        h = (torch.minimum(a[3], b[3]) - torch.maximum(a[1], b[1])).clamp_min(0)
        return float(w * h / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])))

    def no_clamp(a: torch.Tensor, b: torch.Tensor) -> float:
        w = torch.minimum(a[2], b[2]) - torch.maximum(a[0], b[0])
        h = torch.minimum(a[3], b[3]) - torch.maximum(a[1], b[1])
        inter = w * h
        return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))

    assert "MINUS the intersection" in checks.check_iou(no_minus).message
    assert "clamp the overlap" in checks.check_iou(no_clamp).message


# --- checks of functions that act on a model (camlib.checks.observe) -------------------------------------


def test_an_exception_in_a_hook_exercise_shows_the_learners_line_not_the_observer() -> None:
    def capture_layer4(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
        handle = model.layer5.register_forward_hook(lambda m, i, o: None)  # ResNets have no layer5
        handle.remove()
        return images

    result = checks.check_capture_features(capture_layer4)
    assert (
        result.status == "error" and "capture_layer4() raised AttributeError on case 1 of 2" in result.message
    )
    assert "in capture_layer4: handle = model.layer5.register_forward_hook" in result.message
    assert "camlib" not in result.message.split("\n", 1)[1] and "torch/" not in result.message


def test_a_stub_of_a_model_exercise_is_not_attempted_and_the_random_state_is_kept() -> None:
    def gapify_vgg(vgg: torch.nn.Module, num_classes: int) -> torch.nn.Module:
        raise NotImplementedError("exercise: write the body of gapify_vgg")

    state = torch.random.get_rng_state()
    result = checks.check_gapify_vgg(gapify_vgg)
    assert result.status == "not attempted" and "write the body of gapify_vgg()" in result.message
    assert torch.equal(torch.random.get_rng_state(), state)  # building the case's VGG16 drew nothing from it


def test_a_learner_model_exercise_never_touches_the_cases_network() -> None:
    spec = CATALOGUE["check_capture_features"]
    network = spec.cases[1][0].model()  # the train-mode ResNet the observer copies for every call
    before = copy.deepcopy(network.state_dict())

    def careless(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
        out = model(images)  # train mode: BatchNorm updates its running statistics
        model.layer4.register_forward_hook(lambda m, i, o: None)
        return out

    result = spec.run(careless, verbose=False)
    assert result.status == "wrong"
    assert network.training and not network.layer4._forward_hooks
    assert all(torch.equal(before[k], v) for k, v in network.state_dict().items())


def test_the_amp_step_names_a_step_that_bypasses_the_scaler() -> None:
    def amp_train_step(
        model: Any, optimizer: Any, scaler: Any, images: torch.Tensor, labels: torch.Tensor
    ) -> float:
        model.train()
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(model(images).float(), labels)
        loss.backward()
        scaler.step(optimizer)
        scaler.update()
        return float(loss.detach())

    result = checks.check_amp_step(amp_train_step)
    assert result.status == "wrong" and "case 3 of 3" in result.message
    assert "Mistake: backpropagate the SCALED loss" in result.message
