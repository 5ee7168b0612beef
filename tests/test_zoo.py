"""The checkpoint zoo: manifest, registration, sha256-verified loading, and the shipped checkpoints themselves."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from camlib import zoo
from camlib.__main__ import main
from camlib.cam import class_activation_maps
from camlib.checkpoint import CheckpointError, save_checkpoint
from camlib.data.shapes import Shapes
from camlib.files import DestinationError
from camlib.models import ModelSpec, NetConfig, build_model
from camlib.train import evaluate, fit

TINY = NetConfig(widths=(8, 16), downsample=2)
SMALL = ["--train-size", "128", "--val-size", "32", "--test-size", "64", "--image-size", "32"]
SMALL += ["--widths", "8,16", "--downsample", "2", "--batch-size", "16", "--no-progress"]


@pytest.fixture
def zoo_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "zoo"
    monkeypatch.setenv(zoo.ENV_VAR, str(root))
    return root


def make_tiny_checkpoint(path: Path) -> float:
    """Train a tiny GAP net on tiny Shapes for one epoch, save it with its test accuracy; return the accuracy."""
    torch.manual_seed(0)
    data = {s: Shapes(s, size=n, image_size=32) for s, n in (("train", 128), ("test", 64))}
    spec = ModelSpec("gap", data["train"].num_classes, TINY)
    model = build_model(spec)
    fit(model, data["train"], epochs=1, batch_size=16, device="cpu", progress=False)
    acc = evaluate(model, data["test"], device="cpu")["accuracy"]
    save_checkpoint(
        path,
        model,
        spec,
        class_names=data["train"].class_names,
        dataset={"name": "shapes", "splits": {s: d.spec() for s, d in data.items()}},
        metrics={"test_accuracy": acc},
        command="python -m camlib train --model gap --zoo tiny",
    )
    return acc


def test_empty_zoo(zoo_root: Path) -> None:
    assert zoo.zoo_dir() == zoo_root and zoo.available() == []
    with pytest.raises(KeyError, match="no checkpoint named 'gap'.*available: none.*--zoo gap"):
        zoo.entry("gap")


def test_register_load_evaluate(zoo_root: Path, tmp_path: Path) -> None:
    acc = make_tiny_checkpoint(tmp_path / "made.pt")
    e = zoo.register("tiny", tmp_path / "made.pt")
    assert zoo.available() == ["tiny"] and e.path == zoo_root / "tiny.pt" and e.path.is_file()
    assert e == zoo.entry("tiny")
    assert e.size_bytes == e.path.stat().st_size < zoo.MAX_BYTES
    assert e.command == "python -m camlib train --model gap --zoo tiny" and e.metrics["test_accuracy"] == acc
    manifest = json.loads((zoo_root / zoo.MANIFEST).read_text())
    assert (
        manifest["checkpoints"]["tiny"]["sha256"] == e.sha256
        and manifest["checkpoints"]["tiny"]["file"] == "tiny.pt"
    )
    model = zoo.load("tiny")
    assert not model.training
    ds = zoo.dataset("tiny", "test")
    assert len(ds) == 64
    assert evaluate(model, ds, device="cpu")["accuracy"] == pytest.approx(e.metrics["test_accuracy"], abs=0.5)
    out = class_activation_maps(model, ds.batch(torch.arange(2)).images)
    assert out.maps.shape == (2, 1, 16, 16)
    # registering again is refused (the entry and its file would be lost) unless forced
    with pytest.raises(DestinationError, match="already has a checkpoint named 'tiny': pass force=True"):
        zoo.register("tiny", tmp_path / "made.pt", command="again")
    assert zoo.entry("tiny").command != "again"
    # with force it replaces the entry, and the zoo root can also be passed explicitly
    zoo.register("tiny", tmp_path / "made.pt", command="again", force=True)
    assert zoo.entry("tiny", root=zoo_root).command == "again" and zoo.available(zoo_root) == ["tiny"]


def test_flipped_byte_gives_the_sha256_error(zoo_root: Path, tmp_path: Path) -> None:
    make_tiny_checkpoint(tmp_path / "made.pt")
    e = zoo.register("tiny", tmp_path / "made.pt")
    data = bytearray(e.path.read_bytes())
    data[100] ^= 0x01
    e.path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256 mismatch.*rebuild it with: python -m camlib train"):
        zoo.load("tiny")


def test_register_refuses_large_or_invalid_files(zoo_root: Path, tmp_path: Path) -> None:
    make_tiny_checkpoint(tmp_path / "made.pt")
    with pytest.raises(ValueError, match="over the zoo's .* limit: use smaller widths"):
        zoo.register("tiny", tmp_path / "made.pt", max_bytes=1000)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(CheckpointError):
        zoo.register("junk", tmp_path / "junk.pt")
    assert zoo.available() == []


def test_broken_manifest_says_how_to_restore(zoo_root: Path) -> None:
    zoo_root.mkdir()
    (zoo_root / zoo.MANIFEST).write_text("{oops")
    with pytest.raises(ValueError, match="not valid JSON.*git checkout"):
        zoo.available()


def test_cli_train_registers_and_evaluates_by_name(
    zoo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ckpt" / "cli.pt"
    args = ["train", "--epochs", "1", "--out", str(out), "--zoo", "cli", "--json", *SMALL]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    e = zoo.entry("cli")
    assert result["zoo"]["sha256"] == e.sha256 and e.command == result["command"] and "--zoo cli" in e.command
    assert main(["evaluate", "cli", "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["metrics"]["accuracy"] == pytest.approx(e.metrics["test_accuracy"], abs=0.5)


# --- the checkpoints the course ships ------------------------------------------------------------------------

SHIPPED = zoo.available(zoo.DEFAULT_DIR)
REASON = (
    "no shipped checkpoints yet: data/checkpoints/manifest.json lists none (the lead trains them with --zoo)"
)


@pytest.mark.parametrize("name", SHIPPED or [pytest.param("none", marks=pytest.mark.skip(reason=REASON))])
def test_shipped_checkpoint_reproduces_its_test_accuracy(name: str, tmp_path: Path) -> None:
    e = zoo.entry(name, root=zoo.DEFAULT_DIR)
    assert e.size_bytes < zoo.MAX_BYTES and e.path.stat().st_size == e.size_bytes
    assert e.command.startswith(("python -m camlib train", "torchrun")) and f"--zoo {name}" in e.command
    model = zoo.load(name, root=zoo.DEFAULT_DIR)
    assert not model.training
    ds = zoo.dataset(name, "test", root=zoo.DEFAULT_DIR)
    got = evaluate(model, ds, batch_size=500, device="cpu")["accuracy"]
    assert got == pytest.approx(e.metrics["test_accuracy"], abs=0.5)
    if e.model_spec["arch"] in ("gap", "gmp"):  # ready for CAM as it comes out of the zoo
        cam = class_activation_maps(model, ds.batch(torch.arange(2)).images)
        assert cam.maps.shape[:2] == (2, 1) and torch.isfinite(cam.maps).all()
    # one flipped byte in a copy -> the sha256 error
    copy = tmp_path / "copy"
    shutil.copytree(zoo.DEFAULT_DIR, copy)
    data = bytearray((copy / e.file).read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / e.file).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256 mismatch"):
        zoo.load(name, root=copy)
