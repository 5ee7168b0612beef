"""Checkpoint files: round trip, weights_only loading, and a clear error for every broken file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

import camlib
from camlib.checkpoint import (
    FORMAT,
    CheckpointError,
    content_digest,
    dataset_from_meta,
    load_checkpoint,
    plain,
    read_checkpoint,
    save_checkpoint,
)
from camlib.data.shapes import Shapes
from camlib.files import sha256_file
from camlib.models import FCNet, ModelSpec, NetConfig, build_model

TINY = NetConfig(widths=(8, 16), downsample=2)
CMD = "python -m camlib train --model gap --epochs 1 --out tiny.pt"


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, nn.Module, str]:
    torch.manual_seed(0)
    spec = ModelSpec("gap", 4, TINY)
    model = build_model(spec)
    model.train()(torch.rand(8, 3, 16, 16))  # move the BatchNorm statistics away from their init
    path = tmp_path / "sub" / "tiny.pt"
    sha = save_checkpoint(
        path,
        model,
        spec,
        class_names=["a", "b", "c", "d"],
        dataset={"name": "shapes", "splits": {"test": Shapes("test", size=8, image_size=32, seed=5).spec()}},
        profile="fast",
        seed=7,
        metrics={"test_accuracy": 91.5},
        history=[{"epoch": 1, "train_loss": 0.5}],
        command=CMD,
    )
    return path, model, sha


def test_round_trip(saved: tuple[Path, nn.Module, str]) -> None:
    path, model, sha = saved
    assert sha == sha256_file(path) and len(sha) == 64
    loaded, meta = load_checkpoint(path, sha256=sha)
    assert not loaded.training
    ref = model.state_dict()
    got = loaded.state_dict()
    assert ref.keys() == got.keys() and all(torch.equal(ref[k], got[k]) for k in ref)
    assert meta["class_names"] == ["a", "b", "c", "d"] and meta["seed"] == 7 and meta["profile"] == "fast"
    assert meta["metrics"] == {"test_accuracy": 91.5} and meta["command"] == CMD
    assert meta["camlib_version"] == camlib.__version__ and "state_dict" not in meta
    assert ModelSpec.from_dict(meta["model_spec"]) == ModelSpec("gap", 4, TINY)
    x = torch.rand(2, 3, 16, 16)
    assert torch.equal(loaded(x), model.eval()(x))
    # plain torch can read it without unpickling code
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == FORMAT and set(raw["state_dict"]) == set(ref)
    # the dataset spec rebuilds the test split
    ds = dataset_from_meta(meta, "test")
    assert isinstance(ds, Shapes) and (len(ds), ds.image_size, ds.seed, ds.split) == (8, 32, 5, "test")
    with pytest.raises(CheckpointError, match="no 'train' split"):
        dataset_from_meta(meta, "train")


def test_fc_model_with_tuple_options_round_trips(tmp_path: Path) -> None:
    spec = ModelSpec("fc", 3, TINY, {"hidden": (12,), "grid": 2, "dropout": 0.0})
    model = build_model(spec)
    save_checkpoint(tmp_path / "fc.pt", model, spec, class_names=["x", "y", "z"])
    loaded, meta = load_checkpoint(tmp_path / "fc.pt")
    assert (
        isinstance(loaded, FCNet)
        and loaded.hidden == (12,)
        and meta["model_spec"]["options"]["hidden"] == [12]
    )


def test_save_rejects_wrong_class_names_and_odd_metadata(tmp_path: Path) -> None:
    spec = ModelSpec("gap", 4, TINY)
    with pytest.raises(ValueError, match="3 class names for a model with 4 classes"):
        save_checkpoint(tmp_path / "x.pt", build_model(spec), spec, class_names=["a", "b", "c"])
    with pytest.raises(TypeError, match="plain types"):
        plain({"x": object()})
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no checkpoint file at .*check the path.*retrain"):
        load_checkpoint(tmp_path / "nope.pt")


def test_truncated_file(saved: tuple[Path, nn.Module, str], tmp_path: Path) -> None:
    path = saved[0]
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated or damaged.*interrupted download"):
        load_checkpoint(cut)
    with pytest.raises(CheckpointError, match=f"rebuild it with: {CMD}"):
        load_checkpoint(cut, command=CMD)


def test_corrupt_file_not_a_zip(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(CheckpointError, match="not a camlib checkpoint .*not a torch zip"):
        load_checkpoint(bad)


def test_tampered_file_fails_sha256(saved: tuple[Path, nn.Module, str], tmp_path: Path) -> None:
    path, _, sha = saved
    copy = tmp_path / "copy.pt"
    shutil.copyfile(path, copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256 mismatch.*corrupt or was modified.*rebuild it with"):
        load_checkpoint(copy, sha256=sha, command=CMD)
    load_checkpoint(path, sha256=sha.upper())  # the original still verifies (hex case does not matter)


def test_missing_keys(tmp_path: Path) -> None:
    path = tmp_path / "partial.pt"
    torch.save({"format": FORMAT, "format_version": 1, "state_dict": {}}, path)
    with pytest.raises(
        CheckpointError, match=r"lacks the keys \['model_spec', 'class_names', 'dataset', 'metrics'\]"
    ):
        load_checkpoint(path)


def test_plain_torch_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    torch.save(nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(CheckpointError, match="torch file but not a camlib checkpoint"):
        load_checkpoint(path)


class Evil:
    pass


def test_pickled_objects_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "obj": Evil()}, path)
    with pytest.raises(CheckpointError, match="objects other than tensors and plain types"):
        read_checkpoint(path)


def test_weights_that_do_not_fit_the_spec(saved: tuple[Path, nn.Module, str], tmp_path: Path) -> None:
    payload = torch.load(saved[0], weights_only=True)
    payload["model_spec"]["num_classes"] = 5
    payload["content_sha256"] = content_digest(payload)  # a consistent file whose spec is wrong (not damaged)
    path = tmp_path / "mismatch.pt"
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="do not fit its recorded model spec.*rebuild it with"):
        load_checkpoint(path)


def test_newer_format_asks_for_an_upgrade(saved: tuple[Path, nn.Module, str], tmp_path: Path) -> None:
    payload = torch.load(saved[0], weights_only=True)
    payload["format_version"] = 99
    path = tmp_path / "future.pt"
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="upgrade camlib"):
        load_checkpoint(path)


def test_checkpoint_error_is_a_value_error() -> None:
    assert issubclass(CheckpointError, ValueError)
