"""The CAM family against two independent implementations: torchcam 0.5 and pytorch-grad-cam 1.5.

Each camlib method is compared with the same method of each library that implements it the same way, on
torchvision's resnet18 and on camlib's GAPNet (``weights=None``, seeded), with the predicted classes, to
``TOL = 1e-5`` relative (max |camlib - library| / max |library|), after the same post-processing:

* torchcam: ``extractor(class_idx, scores, normalized=False)`` — the weighted sum and ReLU at the layer's
  resolution, no normalisation; camlib's maps are that already.
* pytorch-grad-cam: ``cam(x, targets)`` — ReLU, min-max (eps 1e-7), ``cv2.resize`` (bilinear, half-pixel
  centres) to the image, min-max again; camlib: ``normalize(upsample(normalize(maps)))`` (same order).

Where a library computes something else, the test says what (Grad-CAM++ of torchcam, Score-CAM of
pytorch-grad-cam, Eigen-CAM's sign).
"""

from __future__ import annotations

import importlib.metadata

import pytest
import torch
import torchvision
from torch import Tensor, nn

from camlib.cam import METHODS, capture, channel_maps, normalize, upsample
from camlib.cam.methods.eigencam import _eigen_cam_weights
from camlib.models import GAPNet, NetConfig

torchcam = pytest.importorskip("torchcam.methods", reason="the dev extra installs torchcam")
pgc = pytest.importorskip("pytorch_grad_cam", reason="the dev extra installs grad-cam")
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402
from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection  # noqa: E402

TOL = 1e-5

#: camlib name -> (torchcam class, pytorch-grad-cam class, camlib keyword arguments); None: not the same method
REFERENCES: dict[str, tuple[object, object, dict[str, float]]] = {
    "gradcam": (torchcam.GradCAM, pgc.GradCAM, {}),
    "gradcampp": (None, pgc.GradCAMPlusPlus, {"eps": 1e-6}),  # pytorch-grad-cam's eps
    "xgradcam": (torchcam.XGradCAM, pgc.XGradCAM, {}),
    "hirescam": (None, pgc.HiResCAM, {}),
    "layercam": (torchcam.LayerCAM, pgc.LayerCAM, {}),
    "scorecam": (torchcam.ScoreCAM, None, {}),
    "eigencam": (None, pgc.EigenCAM, {}),
}


def rel_err(ours: Tensor, ref: Tensor) -> float:
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    return float((ours - ref).abs().max() / ref.abs().max())


def build(name: str) -> tuple[nn.Module, nn.Module]:
    """(model, its last conv stage), seeded, random weights, eval mode."""
    torch.manual_seed(0)
    if name == "resnet18":
        model: nn.Module = torchvision.models.resnet18(weights=None).eval()
        layer = model.layer4
    else:
        model = GAPNet(6, NetConfig()).eval()
        layer = model.features
    return model, layer


@pytest.fixture(scope="module", params=["resnet18", "gapnet"])
def case(request: pytest.FixtureRequest) -> tuple[str, nn.Module, nn.Module]:
    return (request.param, *build(request.param))


def images(model_name: str, method: str) -> Tensor:
    """Seeded images; their size keeps Score-CAM's B*K masked forwards affordable on a CPU."""
    if model_name == "gapnet":
        return torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    if method == "scorecam":  # 512 masked forwards per image: one 64-px image (2x2 last map)
        return torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    return torch.rand(2, 3, 160, 160, generator=torch.Generator().manual_seed(1))  # 5x5 last map


def torchcam_maps(extractor_cls: type, model: nn.Module, layer: nn.Module, x: Tensor, cls: Tensor) -> Tensor:
    """torchcam's (B, h, w) maps, ReLU'd, not normalised."""
    with extractor_cls(model, layer) as extractor:
        if extractor_cls is torchcam.ScoreCAM:
            with torch.no_grad():
                model(x)
            maps = extractor(class_idx=cls.tolist(), normalized=False)[0]
        else:
            maps = extractor(class_idx=cls.tolist(), scores=model(x), normalized=False)[0]
    model.zero_grad(set_to_none=True)
    return maps.detach()


def pgc_maps(cam_cls: type, model: nn.Module, layer: nn.Module, x: Tensor, cls: Tensor) -> Tensor:
    """pytorch-grad-cam's (B, H, W) maps: ReLU, min-max, resized, min-max."""
    with cam_cls(model, [layer]) as cam:
        maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(int(c)) for c in cls])
    model.zero_grad(set_to_none=True)  # it calls loss.backward(): the parameters get a .grad
    return torch.from_numpy(maps)


def pgc_post(maps: Tensor, size: tuple[int, int]) -> Tensor:
    """pytorch-grad-cam's post-processing with camlib's functions: (B, 1, h, w) -> (B, H, W)."""
    return normalize(upsample(normalize(maps), size))[:, 0]


@pytest.mark.parametrize("method", [m for m, (tc, _, _) in REFERENCES.items() if tc is not None])
def test_equals_torchcam(case: tuple[str, nn.Module, nn.Module], method: str) -> None:
    name, model, layer = case
    x = images(name, method)
    with torch.no_grad():
        cls = model(x).argmax(1)
    extractor, _, kwargs = REFERENCES[method]
    ours = METHODS[method](model, x, cls, target_layer=layer, **kwargs).maps[:, 0]  # type: ignore[call-arg]
    ref = torchcam_maps(extractor, model, layer, x, cls)  # type: ignore[arg-type]
    assert ref.abs().max() > 0
    assert rel_err(ours, ref) <= TOL


@pytest.mark.parametrize("method", [m for m, (_, p, _) in REFERENCES.items() if p is not None])
def test_equals_pytorch_grad_cam(case: tuple[str, nn.Module, nn.Module], method: str) -> None:
    name, model, layer = case
    x = images(name, method)
    with torch.no_grad():
        cls = model(x).argmax(1)
    _, cam_cls, kwargs = REFERENCES[method]
    ours = METHODS[method](model, x, cls, target_layer=layer, **kwargs).maps  # type: ignore[call-arg]
    ref = pgc_maps(cam_cls, model, layer, x, cls)  # type: ignore[arg-type]
    if (
        method == "eigencam"
    ):  # a singular vector's sign is arbitrary: flip camlib's where NumPy chose the other
        sign = eigen_signs(model, layer, x, cls)  # (B,) after checking the raw projections agree up to it
        raw = channel_maps(model, x, cls, _eigen_cam_weights, target_layer=layer, relu=False).maps
        assert torch.equal(ours, raw.relu())
        ours = (raw * sign[:, None, None, None]).relu()
    assert rel_err(pgc_post(ours, (x.shape[-2], x.shape[-1])), ref) <= TOL


def eigen_signs(model: nn.Module, layer: nn.Module, x: Tensor, cls: Tensor) -> Tensor:
    """+1 where camlib's raw Eigen-CAM is pytorch-grad-cam's projection, -1 where it is its negative; asserts
    that one of the two holds to TOL on every image."""
    with torch.no_grad(), capture(layer) as seen:
        model(x)
    ref = torch.from_numpy(get_2d_projection(seen["value"].numpy()))  # (B, h, w), before any ReLU
    ours = channel_maps(model, x, cls, _eigen_cam_weights, target_layer=layer, relu=False).maps[:, 0]
    sign = torch.sign((ours * ref).flatten(1).sum(1))  # (B,)
    assert rel_err(ours, ref * sign[:, None, None]) <= TOL
    return sign


def test_eigen_cam_raw_projection_equals_pytorch_grad_cam_up_to_sign(
    case: tuple[str, nn.Module, nn.Module],
) -> None:
    name, model, layer = case
    x = images(name, "eigencam")
    eigen_signs(model, layer, x, torch.zeros(x.shape[0], dtype=torch.long))


def test_grad_cam_pp_default_follows_the_paper_and_the_libraries_do_not() -> None:
    """camlib's default (eps 0) is Eq. 19; pytorch-grad-cam's eps 1e-6 and torchcam 0.5.0's undivided alpha
    give other maps on resnet18, where the last stage's gradients are ~1e-3 (2 g^2 ~ 1e-6)."""
    model, layer = build("resnet18")
    x = images("resnet18", "gradcampp")
    with torch.no_grad():
        cls = model(x).argmax(1)
    with torch.enable_grad(), capture(layer) as seen:
        inp = x.clone().requires_grad_(True)
        score = model(inp).gather(1, cls[:, None]).sum()
    a = seen["value"].detach()  # (B, K, h, w)
    g = torch.autograd.grad(score, seen["value"])[0]  # (B, K, h, w)
    alpha = g**2 / (2 * g**2 + a.sum((2, 3), keepdim=True) * g**3)  # Eq. 19, no eps
    weights = (torch.nan_to_num(alpha) * g.relu()).sum((2, 3))  # (B, K)
    paper = torch.einsum("bk,bkhw->bhw", weights, a).relu()
    ours = METHODS["gradcampp"](model, x, cls, target_layer=layer).maps[:, 0]
    assert rel_err(ours, paper) <= TOL
    pgc_like = METHODS["gradcampp"](model, x, cls, target_layer=layer, eps=1e-6).maps  # type: ignore[call-arg]
    assert rel_err(normalize(ours[:, None]), normalize(pgc_like)) > 1e-2  # eps 1e-6 is not negligible here
    if importlib.metadata.version("torchcam") == "0.5.0":
        undivided = torch.einsum("bk,bkhw->bhw", (g**2 * g.relu()).sum((2, 3)), a).relu()
        ref = torchcam_maps(torchcam.GradCAMpp, model, layer, x, cls)
        assert rel_err(undivided, ref) <= TOL  # what torchcam 0.5.0 computes: alpha = g^2
        assert rel_err(normalize(ours[:, None])[:, 0], normalize(ref[:, None])[:, 0]) > 1e-2


def test_score_cam_differs_from_pytorch_grad_cams_order_of_operations() -> None:
    """pytorch-grad-cam upsamples each channel (align_corners=True) before normalising it (the paper's order);
    torchcam and camlib normalise at the layer's resolution and upsample with align_corners=False. Same idea,
    other masks: the maps are close, not equal."""
    model, layer = build("gapnet")
    x = images("gapnet", "scorecam")[:1]
    with torch.no_grad():
        cls = model(x).argmax(1)
    ours = pgc_post(METHODS["scorecam"](model, x, cls).maps, (64, 64))
    ref = pgc_maps(pgc.ScoreCAM, model, layer, x, cls)
    err = rel_err(ours, ref)
    assert TOL < err < 0.5
    corr = torch.corrcoef(torch.stack([ours.flatten(), ref.flatten()]))[0, 1]
    assert corr > 0.9


def test_score_cam_batches_its_masked_forwards() -> None:
    """B*K masked images, ``batch_size`` per forward pass, plus the one forward of the images."""
    model, layer = build("gapnet")
    x = images("gapnet", "scorecam")  # (3, 3, 64, 64), K = 128
    calls: list[int] = []
    handle = model.register_forward_pre_hook(lambda _m, inp: calls.append(int(inp[0].shape[0])))
    try:
        a = METHODS["scorecam"](model, x, batch_size=100).maps  # type: ignore[call-arg]
    finally:
        handle.remove()
    assert calls == [3, 100, 100, 100, 84]
    b = METHODS["scorecam"](model, x, batch_size=384).maps  # type: ignore[call-arg]
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        METHODS["scorecam"](model, x, batch_size=0)  # type: ignore[call-arg]
