"""Issue 16: every bad input gets a clear error that names the fix (the catalogue is tests/error_cases.py).

Each case asserts the EXACT error type and that the message names the fix; each input that used to fail and now
works has its ``test_accepted_<key>`` here. docs/ERRORS.md is generated from the same catalogue.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from error_cases import ACCEPTED, CASES, TINY, Case, images, net, tiny_checkpoint
from PIL import Image
from torch import Tensor, nn
from torch.utils.data import DataLoader

from camlib.cam import class_activation_maps, grad_cam, gradient_saliency
from camlib.checkpoint import load_checkpoint, save_checkpoint
from camlib.data import Batch, ImageFolder, Sample, Shapes
from camlib.explorer import CAMExplorer
from camlib.files import sha256_file
from camlib.models import GAPNet, ModelSpec, build_model, gapify


@pytest.mark.parametrize("case", CASES, ids=[f"{c.group}: {c.bad}" for c in CASES])
def test_bad_input_gets_its_error_and_the_fix(case: Case) -> None:
    if issubclass(case.error, Warning):
        with warnings.catch_warnings():
            warnings.simplefilter("error", case.error)  # a warning of exactly this type, raised to catch it
            with pytest.raises(case.error) as info:
                case.call()
    else:
        with pytest.raises(BaseException) as info:
            case.call()
    assert type(info.value) is case.error, f"{type(info.value).__name__}: {info.value}"
    message = info.value.args[0] if isinstance(info.value, KeyError) else str(info.value)
    assert case.fix in message, message


def test_every_class_of_the_issue_has_cases() -> None:
    from error_cases import CLI_CASES, GROUPS

    for group in GROUPS:
        assert sum(c.group == group for c in [*CASES, *CLI_CASES, *ACCEPTED]) >= 2, group


def test_every_accepted_input_has_its_test() -> None:
    import test_errors_files

    tests = {*globals(), *vars(test_errors_files)}
    missing = [a.key for a in ACCEPTED if f"test_accepted_{a.key}" not in tests]
    assert not missing and len({a.key for a in ACCEPTED}) == len(ACCEPTED), missing


# --- inputs that used to fail and now work ---------------------------------------------------------------


def _identity_holds(model: nn.Module, x: Tensor, bias: Tensor) -> None:
    out = class_activation_maps(model, x, [list(range(bias.numel()))])
    torch.testing.assert_close(out.maps.mean((-2, -1)) + bias, out.logits, rtol=1e-4, atol=1e-4)


def test_accepted_numpy_class() -> None:
    a = class_activation_maps(net(), images(), np.int64(3))
    b = class_activation_maps(net(), images(), 3)
    assert a.classes.tolist() == [[3]] * 4 and torch.equal(a.maps, b.maps)
    assert class_activation_maps(net(), images(), torch.tensor(3)).classes.tolist() == [[3]] * 4


def test_accepted_length_b_classes() -> None:
    per_image = [0, 5, 2, 2]
    as_list = grad_cam(net(), images(), per_image)
    as_tensor = grad_cam(net(), images(), torch.tensor(per_image))
    as_array = grad_cam(net(), images(), np.array(per_image))
    assert as_list.classes.tolist() == [[0], [5], [2], [2]]
    assert torch.equal(as_list.maps, as_tensor.maps) and torch.equal(as_list.maps, as_array.maps)
    assert class_activation_maps(net(), images(), [4]).classes.tolist() == [[4]] * 4  # length 1: every image


def test_accepted_nested_classes() -> None:
    out = class_activation_maps(net(), images(), [[0, 2]])
    assert out.classes.tolist() == [[0, 2]] * 4
    every = class_activation_maps(net(), images(), [list(range(6))]).maps  # (4, 6, h, w)
    torch.testing.assert_close(out.maps, every[:, [0, 2]])


def test_accepted_train_mode_model() -> None:
    model = net().train()  # a freshly built model is in train mode
    with torch.no_grad():
        model(torch.rand(8, 3, 32, 32))  # non-trivial running statistics
    stats = {k: v.clone() for k, v in model.state_dict().items()}
    x = images()
    maps = class_activation_maps(model, x, 1).maps
    assert model.training and all(m.training for m in model.modules())
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in stats.items())  # BatchNorm stats unchanged
    torch.testing.assert_close(maps, class_activation_maps(model.eval(), x, 1).maps)
    torch.testing.assert_close(maps[1:2], class_activation_maps(model, x[1:2], 1).maps)  # batch-independent


class MeanGAP(nn.Module):
    """GAP written in forward; the Linear registered before the trunk."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 5)
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.features(x).mean((2, 3)))


def test_accepted_mean_gap() -> None:
    model = MeanGAP().eval()
    with torch.no_grad():
        model.fc.bias.normal_()
    _identity_holds(model, images(), model.fc.bias)
    torch.testing.assert_close(
        class_activation_maps(model, images(), 2).maps[:, 0],
        torch.einsum("k,bkhw->bhw", model.fc.weight[2], model.features(images())).detach(),
    )


class LinearFirst(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 5)
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.pool(self.features(x)).flatten(1))


def test_accepted_linear_first() -> None:
    model = LinearFirst().eval()
    _identity_holds(model, images(), model.fc.bias)


class AuxHead(LinearFirst):
    """The real head (pool + fc), then an auxiliary pool + Linear on an earlier map, registered after it."""

    def __init__(self) -> None:
        super().__init__()
        self.aux_pool = nn.AdaptiveAvgPool2d(1)
        self.aux_fc = nn.Linear(3, 5)

    def forward(self, x: Tensor) -> Tensor:
        self.aux = self.aux_fc(self.aux_pool(x).flatten(1))  # e.g. a deep-supervision loss
        return super().forward(x)


def test_accepted_aux_head() -> None:
    model = AuxHead().eval()
    _identity_holds(model, images(), model.fc.bias)


@pytest.mark.parametrize(
    "name", ["densenet121", "squeezenet1_1", "mobilenet_v3_small", "efficientnet_b0", "convnext_tiny"]
)
def test_accepted_gapify_families(name: str) -> None:
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cam_net = gapify(model, 5, width=64).eval()
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert not {p.data_ptr() for p in model.parameters()} & {p.data_ptr() for p in cam_net.parameters()}

    def convs(m: nn.Module) -> int:
        return sum(isinstance(c, nn.Conv2d) for c in m.modules())

    added = 0 if name.startswith("densenet") else 1  # DenseNet is already GAP + linear: no conv is added
    assert convs(cam_net.features) == convs(model.features) + added  # the whole trunk, not only its stem
    with torch.no_grad():
        cam_net.classifier.bias.normal_()
    _identity_holds(cam_net, torch.rand(2, 3, 64, 64), cam_net.classifier.bias)


def test_accepted_explorer_unlabelled() -> None:
    samples = [Sample(images(1)[0], -1), Sample(images(1)[0], 0)]
    app = CAMExplorer(net(), samples)
    state = app.show(index=0)
    assert state.label == -1 and "true class <b>unlabelled</b>" in app.status.value
    assert "no true class to compare" in app.status.value and "✗ wrong" not in app.status.value
    assert all(c >= 0 for _, c in app.class_dropdown.options)  # -1 is not offered as a class
    assert app.filtered("wrong") + app.filtered("correct") == [1]  # the unlabelled image is neither


def test_accepted_png16(tmp_path: Path) -> None:
    grey = np.full((10, 10), 65535 // 4, dtype=np.uint16)
    grey[:, 5:] = 65535
    Image.fromarray(grey).save(tmp_path / "scan.png")
    with Image.open(tmp_path / "scan.png") as im:
        assert im.mode.startswith("I")  # PIL reads it as 16 (or 32) bit
    image = ImageFolder(tmp_path, image_size=10)[0].image  # (3, 10, 10)
    assert image[:, :, :4].mean().item() == pytest.approx(0.25, abs=0.01)
    assert image[:, :, 6:].mean().item() == pytest.approx(1.0, abs=0.01)


def test_accepted_sha_newline(tmp_path: Path) -> None:
    path = tiny_checkpoint(tmp_path / "a.pt")
    digest = sha256_file(path)
    for pasted in (digest + "\n", f"  {digest.upper()} "):
        load_checkpoint(path, sha256=pasted)


def test_accepted_unverified(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from camlib.__main__ import main

    data = {s: Shapes(s, size=8, image_size=32) for s in ("train", "test")}
    spec = ModelSpec("gap", 6, TINY)
    kw = {"dataset": {"name": "shapes", "splits": {s: d.spec() for s, d in data.items()}}}
    path = tmp_path / "old.pt"
    save_checkpoint(path, build_model(spec), spec, class_names=data["test"].class_names, **kw)  # type: ignore[arg-type]
    assert main(["evaluate", str(path)]) == 0
    assert "unverified" not in capsys.readouterr().err  # it records the digest of its content
    payload = torch.load(path, weights_only=True)
    del payload["content_sha256"]  # as files saved before camlib recorded it
    torch.save(payload, path)
    assert main(["evaluate", str(path)]) == 0
    err = capsys.readouterr().err
    assert "is unverified" in err and "--sha256" in err and len(err.splitlines()) == 1
    assert main(["evaluate", str(path), "--sha256", sha256_file(path)]) == 0
    assert "unverified" not in capsys.readouterr().err


def _frozen_trunk() -> GAPNet:
    model = net()
    for p in model.features.parameters():
        p.requires_grad_(False)  # notebook 09's linear probe
    return model


def test_accepted_gradcam_frozen() -> None:
    model = _frozen_trunk()
    flags = [p.requires_grad for p in model.parameters()]
    out = grad_cam(model, images(), 1)
    torch.testing.assert_close(out.maps, grad_cam(net(), images(), 1).maps)
    assert [p.requires_grad for p in model.parameters()] == flags and all(
        p.grad is None for p in model.parameters()
    )
    assert gradient_saliency(model, images(), 1).maps.shape == (4, 1, 32, 32)


def test_accepted_gradcam_inference_mode() -> None:
    model = net()
    ref = grad_cam(model, images(), 2).maps
    with torch.inference_mode():
        x = images()  # an inference tensor
        inside = grad_cam(model, x, 2).maps
        sal = gradient_saliency(model, x, 2).maps
    with torch.no_grad():
        torch.testing.assert_close(grad_cam(model, images(), 2).maps, ref)
    torch.testing.assert_close(inside.clone(), ref)
    assert sal.shape == (4, 1, 32, 32)


def test_accepted_dataloader() -> None:
    batch = next(iter(DataLoader(Shapes("val", size=6, image_size=32), batch_size=3)))
    assert isinstance(batch, Batch) and batch.images.shape == (3, 3, 32, 32)
    assert torch.equal(batch.labels, Shapes("val", size=6, image_size=32).batch(range(3)).labels)


def test_accepted_full_on_cpu_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from camlib import profile
    from camlib.__main__ import main
    from camlib.train import run

    monkeypatch.setattr(profile, "accelerator_available", lambda: False)
    calls: list[str] = []
    monkeypatch.setattr(run, "_train", lambda *a: calls.append("trained") or 0)  # the warning comes first
    assert main(["train", "--profile", "full", "--device", "cpu", "--out", str(tmp_path / "f.pt")]) == 0
    err = capsys.readouterr().err
    assert (
        calls == ["trained"]
        and "warning: the full profile runs on the CPU" in err
        and "--profile fast" in err
    )


def test_png_of_8_bits_reads_as_before(tmp_path: Path) -> None:
    Image.new("RGB", (4, 4), (255, 0, 0)).save(tmp_path / "red.png")
    image = ImageFolder(tmp_path, image_size=4)[0].image  # (3, 4, 4)
    assert image[0].min().item() == 1.0 and image[1:].max().item() == 0.0
