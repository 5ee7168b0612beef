"""The catalogue of bad inputs of issue 16 and what each one gets: the source of docs/ERRORS.md.

Three tables, checked by tests/test_errors*.py and printed into docs/ERRORS.md by tests/test_errors_doc.py
(which also fails when the document and this file disagree):

* :data:`CASES`: a bad input to a camlib function, the exact error type (or warning) it gets, and the fix its
  message names (a substring of the message).
* :data:`CLI_CASES`: a bad command line of ``python -m camlib``: exit status 2, one or two lines on stderr, no
  traceback, the fix named; files that existed are unchanged.
* :data:`ACCEPTED`: inputs that used to fail (a torch traceback, a silent wrong result) and now work; each has a
  test named ``test_accepted_<key>`` in tests/test_errors.py or tests/test_errors_files.py.

Each entry belongs to one class of failure of the issue (:data:`GROUPS`).
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import torch
from PIL import Image
from torch import Tensor, nn

from camlib import profile, zoo
from camlib.boxes import iou, largest_component_box
from camlib.cam import METHODS, class_activation_maps, grad_cam, gradient_saliency
from camlib.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from camlib.data import ImageFileError, ImageFolder, Sample, Shapes
from camlib.data.cub import CUB
from camlib.data.shapes import ShortcutShapes
from camlib.explorer import CAMExplorer, ExplorerOptions
from camlib.files import DestinationError, atomic_write
from camlib.localization import positive_mass_share
from camlib.localization.shortcut import peak_histogram, shortcut_scores
from camlib.metrics import LocalizationMeter
from camlib.models import GAPNet, GlobalPoolNet, ModelSpec, NetConfig, build_model, gapify
from camlib.prefetch import PrefetchError, pack, unpack
from camlib.profile import SettingError, SlowWarning
from camlib.train import select_device
from camlib.train.wsol_report import measure_zoo
from camlib.zoo import ZooError

GROUPS = {
    "loss": "Data loss",
    "defaults": "Silent defaults",
    "wrong": "Silent wrong results",
    "misleading": "Misleading errors",
    "torch": "Raw tracebacks from torch",
    "slow": "No warning on slow paths",
}
TINY = NetConfig(widths=(8, 16), downsample=2)


@dataclass(frozen=True)
class Case:
    """A bad input to camlib and what it gets: ``call()`` raises exactly ``error`` (or warns it), and the
    message contains ``fix``."""

    group: str
    bad: str
    call: Callable[[], object]
    error: type[BaseException]
    fix: str


@dataclass(frozen=True)
class CliCase:
    """A bad ``python -m camlib`` command: exit 2, <= 2 lines on stderr containing ``fix``.

    ``argv`` may hold ``{tmp}`` (a fresh folder); ``files`` are written there first and must be unchanged after;
    ``env`` is set for the run.
    """

    group: str
    argv: tuple[str, ...]
    fix: str
    files: dict[str, bytes] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def bad(self) -> str:
        env = " ".join(f"{k}={v}" for k, v in self.env.items())
        return (
            (env + " " if env else "")
            + "python -m camlib "
            + " ".join(self.argv).replace("{tmp}/", "").replace("{tmp}", "DIR")
        )


@dataclass(frozen=True)
class Accepted:
    """An input that now works; ``test_accepted_<key>`` shows it."""

    key: str
    group: str
    bad: str
    gets: str


# --- helpers the cases call -----------------------------------------------------------------------------


def net(seed: int = 0, **kw: object) -> GAPNet:
    torch.manual_seed(seed)
    return GAPNet(6, TINY, **kw).eval()  # type: ignore[arg-type]


def images(n: int = 4, side: int = 32) -> Tensor:
    return torch.rand(n, 3, side, side, generator=torch.Generator().manual_seed(1))


def with_pixel(value: float) -> Tensor:
    x = images()
    x[1, 0, 3, 3] = value
    return x


def tmpdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="camlib-errors-"))


def tiny_checkpoint(path: Path, **kw: object) -> Path:
    spec = ModelSpec("gap", 6, TINY)
    save_checkpoint(path, build_model(spec), spec, class_names=list("abcdef"), **kw)  # type: ignore[arg-type]
    return path


def flipped_byte_checkpoint() -> Path:
    """A checkpoint with one bit of its first conv's weights flipped (inside the zip, so it still opens)."""
    spec, path = ModelSpec("gap", 6, TINY), tmpdir() / "flipped.pt"
    model = build_model(spec)
    save_checkpoint(path, model, spec, class_names=list("abcdef"))
    raw = bytearray(path.read_bytes())
    pos = raw.find(model.features[0].weight.detach().numpy().tobytes())  # the tensor's bytes in the file
    raw[pos + 5] ^= 0x10
    path.write_bytes(bytes(raw))
    return path


class BNBetween(nn.Module):
    """GAP -> BatchNorm1d -> Linear: CAM does not add up to the logits."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.norm = nn.BatchNorm1d(8)
        self.fc = nn.Linear(8, 6)
        with torch.no_grad():
            self.norm.running_mean.uniform_(0.2, 0.5)
            self.norm.running_var.uniform_(0.1, 0.3)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.norm(self.pool(self.features(x)).flatten(1)))


class ScaledLogits(GlobalPoolNet):
    """A GAP network whose forward doubles the logits after the classifier."""

    def forward(self, x: Tensor) -> Tensor:
        return 2 * super().forward(x)


def scaled_logits() -> nn.Module:
    return ScaledLogits(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU()), 8, 6).eval()


def mlp_head() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 6)
    ).eval()


class LinearTrunk(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(12, 4))
        self.classifier = nn.Sequential(nn.Linear(4, 2))


def small_maps_meter() -> None:
    """Boxes from 16x16 maps (not upsampled) against the 64 px ground truth of the same images."""
    b = Shapes("val", size=8, image_size=64).batch(range(8))
    small = torch.nn.functional.interpolate(b.masks[:, None].float(), size=16)[:, 0]  # (8, 16, 16) "maps"
    LocalizationMeter().update(torch.eye(6)[b.labels], b.labels, largest_component_box(small), b.boxes)


def explorer_with_label(label: int) -> CAMExplorer:
    samples = [Sample(images(1)[0], label), Sample(images(1)[0], 0)]
    return CAMExplorer(net(), samples)


def corrupt_jpeg_folder() -> ImageFolder:
    root = tmpdir()
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 20, 20)).save(buf, "JPEG")
    (root / "broken.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])  # truncated
    ds = ImageFolder(root, image_size=32)
    ds[0]
    return ds


def malformed_cub() -> CUB:
    from test_real_data import write_cub

    root = write_cub(tmpdir(), segmentations=False)
    boxes = root / "CUB_200_2011" / "bounding_boxes.txt"
    lines = boxes.read_text().splitlines()
    lines[1] = lines[1].rsplit(" ", 1)[0] + " tall"  # "2 0 0 50 tall"
    boxes.write_text("\n".join(lines) + "\n")
    return CUB(root, "all")


def full_profile_on_a_cpu() -> profile.Profile:
    with ExitStack() as stack:
        stack.enter_context(mock.patch.dict(os.environ, {profile.ENV_VAR: "full"}))
        stack.enter_context(mock.patch.object(profile, "accelerator_available", lambda: False))
        return profile.get_profile()


def existing(name: str = "exists.pt", text: bytes = b"my notes") -> Path:
    path = tmpdir() / name
    path.write_bytes(text)
    return path


def zoo_with(name: str) -> Path:
    root = tmpdir()
    zoo.register(name, tiny_checkpoint(tmpdir() / "a.pt"), root=root)
    return root


def unpack_over_different_file() -> None:
    data, other = tmpdir(), tmpdir()
    (data / "a.txt").write_text("from the bundle")
    bundle = pack(tmpdir() / "b.tar", data)
    (other / "a.txt").write_text("the learner's own")
    unpack(bundle, other)


def tiny_cnn() -> nn.Module:
    """Three 2x2 max-pools: an image of 4 px has nothing left to pool."""
    return GAPNet(6, NetConfig(widths=(4, 4, 4, 4), downsample=8)).eval()


# --- the catalogue --------------------------------------------------------------------------------------

CASES: list[Case] = [
    # data loss
    Case("loss", "save_checkpoint(path) onto an existing file", lambda: tiny_checkpoint(existing()), DestinationError, "pass force=True to replace it"),
    Case("loss", "save_checkpoint(folder)", lambda: tiny_checkpoint(tmpdir()), DestinationError, "give a file name inside it"),
    Case("loss", "a file written below a file (notes.txt/model.pt)", lambda: atomic_write(existing("notes.txt") / "m.pt", lambda p: p.write_text("x")), DestinationError, "is a file, not a folder"),
    Case("loss", "zoo.register(name) of a name the zoo has", lambda: zoo.register("tiny", tiny_checkpoint(tmpdir() / "b.pt"), root=zoo_with("tiny")), DestinationError, "already has a checkpoint named 'tiny'"),
    Case("loss", "prefetch.pack(bundle) onto an existing file", lambda: pack(existing("bundle.tar"), tmpdir()), DestinationError, "pass force=True to replace it"),
    Case("loss", "prefetch.unpack over different files", unpack_over_different_file, PrefetchError, "pass --force"),
    # silent defaults
    Case("defaults", "get_profile('fast', epochs=0)", lambda: profile.get_profile("fast", epochs=0), SettingError, "epochs must be an integer >= 1"),
    Case("defaults", "get_profile('fast', image_size=16)", lambda: profile.get_profile("fast", image_size=16), SettingError, "from 32 to 1024"),
    Case("defaults", "get_profile('fast', batch_size=True)", lambda: profile.get_profile("fast", batch_size=True), SettingError, "batch_size must be an integer"),
    Case("defaults", "get_profile('bogus')", lambda: profile.get_profile("bogus"), SettingError, "CAMLIB_PROFILE=fast"),
    Case("defaults", "select_device('gpu')", lambda: select_device("gpu"), SettingError, "use 'cpu'"),
    Case("defaults", "the --lr type on '-0.1'", lambda: profile.positive_float("-0.1"), argparse.ArgumentTypeError, "must be a number > 0.0"),
    Case("defaults", "the --weight-decay type on 'nan'", lambda: profile.non_negative_float("nan"), argparse.ArgumentTypeError, "must be a number >= 0.0"),
    Case("defaults", "the --downsample type on '3'", lambda: profile.power_of_two("3"), argparse.ArgumentTypeError, "power of two"),
    Case("defaults", "the --device type on 'gpu'", lambda: profile.device_name("gpu"), argparse.ArgumentTypeError, "use cpu, cuda"),
    # silent wrong results: the classes argument
    Case("wrong", "classes=[0, 2] for 4 images", lambda: class_activation_maps(net(), images(), [0, 2]), ValueError, "classes=[[0, 2]]"),
    Case("wrong", "classes=torch.tensor([0, 2]) for 4 images", lambda: grad_cam(net(), images(), torch.tensor([0, 2])), ValueError, "it needs 4 values"),
    Case("wrong", "classes=torch.tensor([0.0, 2.7, 1.0, 1.0])", lambda: class_activation_maps(net(), images(), torch.tensor([0.0, 2.7, 1.0, 1.0])), TypeError, "use integers"),
    Case("wrong", "classes=2.0", lambda: class_activation_maps(net(), images(), 2.0), TypeError, "a float is not a class"),  # type: ignore[arg-type]
    Case("wrong", "classes=True", lambda: class_activation_maps(net(), images(), True), TypeError, "True would mean class 1"),
    Case("wrong", "classes=torch.tensor([True, False, True, True])", lambda: gradient_saliency(net(), images(), torch.tensor([True, False, True, True])), TypeError, "torch.nonzero(mask)"),
    Case("wrong", "classes=[[0, 1], [2]] (ragged)", lambda: class_activation_maps(net(), images(2), [[0, 1], [2]]), ValueError, "pass a (B, N) tensor"),
    Case("wrong", "classes of shape (2, 2, 2)", lambda: class_activation_maps(net(), images(2), torch.zeros(2, 2, 2, dtype=torch.long)), ValueError, "(B, N) or (1, N)"),
    Case("wrong", "classes=[] (empty)", lambda: class_activation_maps(net(), images(), []), ValueError, "request at least one class"),
    # silent wrong results: the head finder
    Case("wrong", "CAM of GAP -> BatchNorm1d -> Linear", lambda: class_activation_maps(BNBetween().eval(), images()), ValueError, "BatchNorm1d"),
    Case("wrong", "CAM of a model that scales its logits after the Linear", lambda: class_activation_maps(scaled_logits(), images()), ValueError, "use camlib.cam.grad_cam"),
    Case("wrong", "CAM of GAP -> Linear -> ReLU -> Linear", lambda: class_activation_maps(mlp_head(), images()), ValueError, "2 linear layers after its global pooling"),
    # silent wrong results: gapify
    Case("wrong", "gapify(nn.Linear(2, 2), 3)", lambda: gapify(nn.Linear(2, 2), 3), TypeError, "build GlobalPoolNet(features, channels, num_classes)"),
    Case("wrong", "gapify of a `features` without a Conv2d", lambda: gapify(LinearTrunk(), 3), TypeError, "holds no Conv2d layer"),
    Case("wrong", "gapify(vgg, 5, width=0)", lambda: gapify(net(), 5, width=0), ValueError, "the paper uses 1024"),
    Case("wrong", "gapify(model, 5, pool='mean')", lambda: gapify(net(), 5, pool="mean"), ValueError, "'avg' or 'max'"),  # type: ignore[arg-type]
    # silent wrong results: boxes and the localization meter
    Case("wrong", "iou of a reversed box (10, 0, 0, 10)", lambda: iou(torch.tensor([10.0, 0, 0, 10]), torch.tensor([0.0, 0, 10, 10])), ValueError, "box_convert(b, 'xywh', 'xyxy')"),
    Case("wrong", "iou of an (x, y, w, h) box (20, 20, 5, 5)", lambda: iou(torch.tensor([20.0, 20, 5, 5]), torch.tensor([0.0, 0, 30, 30])), ValueError, "box_convert"),
    Case("wrong", "iou of a NaN box", lambda: iou(torch.tensor([0.0, float("nan"), 4, 4]), torch.tensor([0.0, 0, 4, 4])), ValueError, "not a finite XYXY box"),
    Case("wrong", "iou of a fractional box against pixel boxes", lambda: iou(torch.tensor([0.1, 0.2, 0.5, 0.6]), torch.tensor([6.0, 12, 32, 40])), ValueError, "scale them to pixels first"),
    Case("wrong", "boxes from maps not upsampled, in LocalizationMeter", small_maps_meter, ValueError, "Upsample the maps to the image first"),
    # silent wrong results: images
    Case("wrong", "CAM of images with a NaN pixel", lambda: class_activation_maps(net(), with_pixel(float("nan"))), ValueError, "NaN or inf values (in images [1])"),
    Case("wrong", "Grad-CAM of images with an inf pixel", lambda: grad_cam(net(), with_pixel(float("inf"))), ValueError, "check how the images were made"),
    Case("wrong", "XGrad-CAM of images with a -inf pixel", lambda: METHODS["xgradcam"](net(), with_pixel(float("-inf"))), ValueError, "NaN or inf values (in images [1])"),
    Case("wrong", "saliency of images with a NaN pixel", lambda: gradient_saliency(net(), with_pixel(float("nan"))), ValueError, "NaN or inf"),
    Case("wrong", "ds.batch([0.5])", lambda: Shapes("val", size=4, image_size=32).batch([0.5]), TypeError, "indices must be integers"),  # type: ignore[list-item]
    # silent wrong results: the explorer
    Case("wrong", "an explorer image labelled 7 for 6 classes", lambda: explorer_with_label(7), ValueError, "-1 for an unlabelled image"),
    Case("wrong", "ExplorerOptions(cmap='hot')", lambda: ExplorerOptions(cmap="hot"), ValueError, "cmap must be one of"),
    Case("wrong", "ExplorerOptions(tau=5)", lambda: ExplorerOptions(tau=5), ValueError, "a number in [0, 1]"),
    Case("wrong", "ExplorerOptions(tau=nan)", lambda: ExplorerOptions(tau=float("nan")), ValueError, "a number in [0, 1]"),
    # silent wrong results: the shortcut and the WSOL methods
    Case("wrong", "ShortcutShapes(agreement=1.5)", lambda: ShortcutShapes("train", size=2, agreement=1.5), ValueError, "e.g. agreement=0.9"),
    Case("wrong", "ShortcutShapes(mark='random', agreement=0.9)", lambda: ShortcutShapes("test", size=2, mark="random", agreement=0.9), ValueError, "leave it out"),
    Case("wrong", "shortcut_scores on Shapes (no marks)", lambda: shortcut_scores(net(), Shapes("test", size=2, image_size=32)), ValueError, "use mark_variants(...)[name]"),  # type: ignore[arg-type]
    Case("wrong", "peak_histogram(maps 64 px, grid=5)", lambda: peak_histogram(torch.rand(2, 64, 64), 5), ValueError, "pick a grid that divides the size"),
    Case("wrong", "positive_mass_share with one box for two maps", lambda: positive_mass_share(torch.rand(2, 8, 8), torch.zeros(1, 4)), ValueError, "pass one box per map"),
    Case("misleading", "measure_zoo on a folder without WSOL checkpoints", lambda: measure_zoo(tmpdir()), profile.SettingError, "--checkpoints DIR --ship"),
    # misleading errors
    Case("misleading", "zoo.load('gap.pt')", lambda: zoo.load("gap.pt", root=zoo_with("gap")), ZooError, "use 'gap'"),
    Case("misleading", "zoo.load('gapp')", lambda: zoo.load("gapp", root=zoo_with("gap")), ZooError, "did you mean 'gap'?"),
    Case("misleading", "zoo.load('resnet') (a name no arch has)", lambda: zoo.load("resnet", root=tmpdir()), ZooError, "--model gap --zoo resnet"),
    Case("misleading", "load_checkpoint(path, sha256='abc')", lambda: load_checkpoint(tiny_checkpoint(tmpdir() / "c.pt"), sha256="abc"), ValueError, "64 hex digits"),
    Case("misleading", "load_checkpoint of a flipped byte, no outside sha256", lambda: load_checkpoint(flipped_byte_checkpoint()), CheckpointError, "does not match the digest recorded"),
    Case("misleading", "load_checkpoint(path, map_location='cuda') without a GPU", lambda: load_checkpoint(tiny_checkpoint(tmpdir() / "d.pt"), map_location="cuda" if not torch.cuda.is_available() else "cuda:999"), ValueError, "map_location='cpu'"),
    Case("misleading", "LocalizationMeter().compute() with no image (limit=0)", lambda: LocalizationMeter().compute(), ValueError, "limit=0"),
    Case("misleading", "classes='fish'", lambda: class_activation_maps(net(), images(), "fish"), TypeError, "class_names.index('fish')"),  # type: ignore[arg-type]
    Case("misleading", "largest_component_box(maps, tau='0.2')", lambda: largest_component_box(torch.rand(8, 8), "0.2"), TypeError, "e.g. tau=0.2"),  # type: ignore[arg-type]
    Case("misleading", "a truncated JPEG in an ImageFolder", corrupt_jpeg_folder, ImageFileError, "broken.jpg cannot be read"),
    Case("misleading", "a malformed line in CUB's bounding_boxes.txt", malformed_cub, ValueError, "bounding_boxes.txt:2: expected '<id> <x> <y> <width> <height>'"),
    # raw tracebacks from torch
    Case("torch", "float64 images for a float32 model", lambda: class_activation_maps(net(), images().double()), ValueError, "use x.float()"),
    Case("torch", "images on another device than the model", lambda: grad_cam(net(), images().to("meta")), ValueError, "move one of them"),
    Case("torch", "4 px images for a network with three 2x2 max-pools", lambda: class_activation_maps(tiny_cnn(), torch.rand(2, 3, 4, 4)), ValueError, "use larger images"),
    Case("torch", "Grad-CAM of 4 px images for the same network", lambda: grad_cam(tiny_cnn(), torch.rand(2, 3, 4, 4)), ValueError, "too small for GAPNet"),
    # slow paths
    Case("slow", "Shapes(image_size=512)", lambda: Shapes("val", size=1, image_size=512), SlowWarning, "use image_size <= 256"),
    Case("slow", "CAMLIB_PROFILE=full on a machine without GPU", full_profile_on_a_cpu, SlowWarning, "training takes hours"),
]  # fmt: skip

_CKPT = {"exists.pt": b"my notes, not a checkpoint"}
CLI_CASES: list[CliCase] = [
    # data loss
    CliCase("loss", ("train", "--out", "{tmp}/exists.pt"), "pass --force to replace it", files=_CKPT),
    CliCase("loss", ("train", "--out", "{tmp}"), "is a folder: give a file name inside it"),
    CliCase("loss", ("train", "--out", "{tmp}/exists.pt/gap.pt"), "is a file, not a folder", files=_CKPT),
    CliCase("loss", ("prefetch", "--pack", "{tmp}/exists.pt", "--data", "{tmp}"), "pass --force to replace it", files=_CKPT),
    CliCase("loss", ("reproduce", "--out", "{tmp}/exists.pt"), "is a file, not a folder", files=_CKPT),
    # silent defaults: every number is checked where it is parsed
    *(
        CliCase("defaults", ("train", flag, value), fix)
        for flag, value, fix in [
            ("--epochs", "0", "argument --epochs: must be an integer >= 1"),
            ("--batch-size", "0", "argument --batch-size: must be an integer >= 1"),
            ("--train-size", "0", "argument --train-size: must be an integer >= 1"),
            ("--val-size", "-5", "argument --val-size: must be an integer >= 1"),
            ("--test-size", "0", "argument --test-size: must be an integer >= 1"),
            ("--image-size", "0", "argument --image-size: must be an integer >= 32"),
            ("--image-size", "5000", "<= 1024"),
            ("--threads", "0", "argument --threads: must be an integer >= 1"),
            ("--lr", "-0.1", "argument --lr: must be a number > 0.0"),
            ("--lr", "inf", "argument --lr: must be a number > 0.0"),
            ("--weight-decay", "-1", "argument --weight-decay: must be a number >= 0.0"),
            ("--seed", "-1", "argument --seed: must be an integer >= 0"),
            ("--seed", "1.5", "argument --seed: expected an integer >= 0"),
            ("--widths", "8,0", "comma-separated integers >= 1"),
            ("--downsample", "3", "power of two"),
            ("--device", "gpu", "use cpu, cuda, cuda:0 or mps"),
            ("--zoo", "gap.pt", "use 'gap'"),
        ]
    ),
    CliCase("defaults", ("train", "--widths", "8,16", "--downsample", "8"), "add widths or lower downsample"),
    CliCase("defaults", ("train", "--image-size", "32", "--downsample", "64", "--widths", "4,4,4,4,4,4"), "leaves no pixel in the last map"),
    CliCase("defaults", ("train",), "use one of ['fast', 'full']", env={"CAMLIB_PROFILE": "bogus"}),
    CliCase("defaults", ("reproduce",), "use one of ['fast', 'full']", env={"CAMLIB_PROFILE": "bogus"}),
    CliCase("defaults", ("train", "--dataset", "imagenet"), "unknown dataset 'imagenet'"),
    CliCase("defaults", ("train", "--train-mark", "random"), "add --dataset shortcut or leave them out"),
    CliCase("defaults", ("train", "--dataset", "shortcut", "--agreement", "2"), "e.g. --agreement 0.9"),
    CliCase("defaults", ("evaluate", "gap", "--batch-size", "0"), "argument --batch-size: must be an integer >= 1"),
    CliCase("defaults", ("evaluate", "gap", "--device", "tpu"), "unknown device 'tpu'"),
    CliCase("defaults", ("reproduce", "--methods", "gradient"), "invalid choice: 'gradient'"),
    CliCase("defaults", ("reproduce", "--wsol", "--limit", "10"), "run `python -m camlib reproduce --wsol` on its own"),
    CliCase("defaults", ("reproduce", "--wsol", "--dataset", "cub"), "--dataset belong to the comparison"),
    *(
        CliCase("defaults", ("reproduce", flag, value), fix)
        for flag, value, fix in [
            ("--seed", "x", "argument --seed: expected an integer >= 0"),
            ("--seed", "-1", "argument --seed: must be an integer >= 0"),
            ("--device", "gpu", "use cpu, cuda, cuda:0 or mps"),
            ("--limit", "0", "argument --limit: must be an integer >= 1"),
            ("--val-limit", "-3", "argument --val-limit: must be an integer >= 1"),
        ]
    ),
    CliCase("defaults", ("doctor", "--fix"), "unrecognized arguments: --fix"),
    CliCase("defaults", ("prefetch", "imagenet"), "unknown resource 'imagenet'"),
    CliCase("defaults", ("prefetch", "pets", "--pack", "{tmp}/b.tar"), "leave out the names"),
    CliCase("defaults", ("bogus",), "invalid choice: 'bogus'"),
    # misleading errors
    CliCase("misleading", ("evaluate", "gapp"), "did you mean 'gap'?"),
    CliCase("misleading", ("evaluate", "{tmp}/missing.pt"), "no checkpoint file at"),
    CliCase("misleading", ("evaluate", "gap.pt"), "but the zoo has 'gap': evaluate gap"),
    CliCase("misleading", ("evaluate", "{tmp}/exists.pt"), "is not a camlib checkpoint", files=_CKPT),
    CliCase("misleading", ("evaluate", "gap", "--sha256", "not-a-digest"), "64 hex digits"),
    CliCase("misleading", ("prefetch", "--unpack", "{tmp}/nope.tar"), "no bundle at"),
]  # fmt: skip

ACCEPTED: list[Accepted] = [
    Accepted("force_replaces", "loss", "python -m camlib train --zoo gap --force", "replaces the file and its zoo entry (atomically: no temporary left)"),
    Accepted("failed_write", "loss", "a write that fails half-way (a full disk)", "the old file as it was, no temporary file"),
    Accepted("evaluate_writes_nothing", "loss", "python -m camlib evaluate PATH", "prints only: no file to overwrite"),
    Accepted("numpy_class", "misleading", "classes=np.int64(3)", "the maps of class 3, as classes=3"),
    Accepted("length_b_classes", "wrong", "classes=[a, b, c, d] for 4 images", "one class per image, the same maps as torch.tensor([a, b, c, d])"),
    Accepted("nested_classes", "wrong", "classes=[[0, 2]]", "classes 0 and 2 for every image"),
    Accepted("train_mode_model", "wrong", "a model in train() mode (BatchNorm)", "the eval-mode maps; every module's mode and the BatchNorm statistics unchanged"),
    Accepted("mean_gap", "wrong", "CAM of a model whose forward pools with .mean((2, 3))", "CAM, with mean(M_c) + b_c = S_c"),
    Accepted("linear_first", "wrong", "CAM of a model that registers its Linear before the pool", "CAM of that head, identity holding"),
    Accepted("aux_head", "wrong", "CAM of a model with an auxiliary pool + Linear registered after the real head", "CAM of the head that makes the logits"),
    Accepted("gapify_families", "wrong", "gapify(DenseNet / SqueezeNet / MobileNetV3 / EfficientNet / ConvNeXt)", "a CAM network over the whole trunk; the argument unchanged, no layer shared"),
    Accepted("explorer_unlabelled", "wrong", "an explorer image with label -1 (ImageFolder's flat layout)", "'unlabelled', not the last class; neither correct nor wrong"),
    Accepted("png16", "wrong", "a 16-bit grey PNG", "its grey levels (65535 = white), not an all-white image"),
    Accepted("sha_newline", "misleading", "load_checkpoint(path, sha256=digest + '\\n') or in capitals", "loads (the digest is stripped)"),
    Accepted("unverified", "wrong", "python -m camlib evaluate PATH of a file without a recorded digest", "evaluates, with a warning that the file is unverified"),
    Accepted("gradcam_frozen", "torch", "grad_cam on a frozen trunk (requires_grad=False)", "the same maps; requires_grad unchanged, no .grad"),
    Accepted("gradcam_inference_mode", "torch", "grad_cam inside torch.inference_mode() / no_grad()", "the same maps"),
    Accepted("dataloader", "torch", "DataLoader(Shapes(...)) without collate_fn", "Batch objects, as with collate_fn=collate"),
    Accepted("full_on_cpu_cli", "slow", "python -m camlib train --profile full on a CPU", "a warning on stderr before training"),
]  # fmt: skip
