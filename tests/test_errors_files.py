"""Issue 16, acceptance 4: a file that exists is never overwritten without ``--force`` / ``force=True``, the
destination is checked BEFORE the work (a training run), and every write is atomic (all or nothing)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
import torch
from error_cases import tiny_checkpoint

from camlib import zoo
from camlib.__main__ import main
from camlib.checkpoint import load_checkpoint, save_checkpoint
from camlib.files import DestinationError, atomic_write, check_destination
from camlib.models import ModelSpec, NetConfig, build_model
from camlib.prefetch import pack
from camlib.train import run

SMALL = ["--train-size", "64", "--val-size", "16", "--test-size", "16", "--image-size", "32", "--epochs", "1"]
SMALL += ["--widths", "4,8", "--downsample", "2", "--batch-size", "16", "--no-progress"]


def files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Replace the training run by a recorder: a refused destination must be refused before it."""
    calls: list[object] = []
    monkeypatch.setattr(run, "_train", lambda *a: calls.append(a) or 0)
    return calls


def test_train_refuses_an_existing_file_before_training(tmp_path: Path, no_training: list[object]) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("three weeks of notes")
    assert main(["train", "--out", str(notes), *SMALL]) == 2
    assert notes.read_text() == "three weeks of notes" and no_training == []
    assert main(["train", "--out", str(tmp_path), *SMALL]) == 2  # a folder
    assert main(["train", "--out", str(notes / "m.pt"), *SMALL]) == 2  # a folder that cannot be made
    assert no_training == [] and files(tmp_path) == {"notes.txt": b"three weeks of notes"}


def test_train_refuses_a_taken_zoo_name_before_training(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_training: list[object],
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "zoo"
    monkeypatch.setenv(zoo.ENV_VAR, str(root))
    zoo.register("gap", tiny_checkpoint(tmp_path / "first.pt"))
    shipped = files(root)
    assert main(["train", "--zoo", "gap", *SMALL]) == 2  # would write <zoo>/gap.pt
    assert (
        main(["train", "--zoo", "gap", "--out", str(tmp_path / "new.pt"), *SMALL]) == 2
    )  # would re-register
    err = capsys.readouterr().err
    assert (
        "gap.pt already exists: pass --force" in err
        and "already has a checkpoint named 'gap': pass --force" in err
    )
    assert no_training == [] and files(root) == shipped and not (tmp_path / "new.pt").exists()


def test_accepted_force_replaces(  # --force replaces the file and the zoo entry
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(zoo.ENV_VAR, str(tmp_path / "zoo"))
    zoo.register("gap", tiny_checkpoint(tmp_path / "first.pt"))
    old = zoo.entry("gap").sha256
    assert main(["train", "--zoo", "gap", "--force", "--json", *SMALL]) == 0
    result = json.loads(capsys.readouterr().out)
    assert zoo.entry("gap").sha256 == result["sha256"] != old
    load_checkpoint(zoo.entry("gap").path, sha256=result["sha256"])
    assert [p.name for p in (tmp_path / "zoo").iterdir() if p.name.startswith(".")] == []  # no temporary file


def test_accepted_evaluate_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from camlib.data import Shapes

    data = {s: Shapes(s, size=8, image_size=32) for s in ("train", "test")}
    spec = ModelSpec("gap", 6, NetConfig(widths=(4, 8), downsample=2))
    path = tmp_path / "m.pt"
    save_checkpoint(path, build_model(spec), spec, class_names=data["test"].class_names,
                    dataset={"name": "shapes", "splits": {s: d.spec() for s, d in data.items()}})  # fmt: skip
    monkeypatch.chdir(tmp_path)
    before = files(tmp_path)
    assert main(["evaluate", "m.pt", "--json"]) == 0 and main(["evaluate", "m.pt", "--split", "train"]) == 0
    assert files(tmp_path) == before  # evaluate only prints: it has no output file to overwrite
    capsys.readouterr()


def test_prefetch_pack_refuses_an_existing_bundle_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("a")
    bundle = tmp_path / "bundle.tar"
    bundle.write_text("the only copy of something else")
    assert main(["prefetch", "--pack", str(bundle), "--data", str(data)]) == 2
    assert bundle.read_text() == "the only copy of something else"
    assert "pass --force to replace it" in capsys.readouterr().err
    assert main(["prefetch", "--pack", str(bundle), "--data", str(data), "--force"]) == 0
    with tarfile.open(bundle) as tar:
        assert sorted(tar.getnames()) == ["a.txt", "camlib-bundle.json"]
    with pytest.raises(DestinationError, match="force=True"):
        pack(bundle, data)


def test_accepted_failed_write(  # the old file stays, no temporary is left
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.pt"
    tiny_checkpoint(path)
    good = path.read_bytes()

    def half_then_crash(obj: object, f: object) -> None:
        Path(f).write_bytes(good[:100])  # type: ignore[arg-type]
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", half_then_crash)
    spec = ModelSpec("gap", 6, NetConfig(widths=(4, 8), downsample=2))
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, build_model(spec), spec, class_names=list("abcdef"), force=True)
    assert path.read_bytes() == good and [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_a_file_that_appears_during_the_write_is_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"

    def slow_write(tmp: Path) -> None:
        path.write_text("written meanwhile by someone else")  # appears after the check
        tmp.write_text("ours")

    with pytest.raises(DestinationError, match="appeared while it was being written"):
        atomic_write(path, slow_write)
    assert path.read_text() == "written meanwhile by someone else" and len(list(tmp_path.iterdir())) == 1
    assert atomic_write(path, lambda t: t.write_text("ours"), force=True).read_text() == "ours"


def test_check_destination_names_each_problem(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    assert check_destination(tmp_path / "new" / "deeper" / "m.pt") == tmp_path / "new" / "deeper" / "m.pt"
    assert not (tmp_path / "new").exists()  # checking creates nothing
    for path, kw, match in [
        (tmp_path / "f", {}, "already exists: pass force=True"),
        (tmp_path / "f", {"how": "--force"}, "pass --force"),
        (tmp_path, {"force": True}, "is a folder"),
        (tmp_path / "f" / "m.pt", {}, "is a file, not a folder"),
        (tmp_path / "new" / "m.pt", {"create_folder": False}, "mkdir -p"),
    ]:
        with pytest.raises(DestinationError, match=match):
            check_destination(path, **kw)  # type: ignore[arg-type]
    assert check_destination(tmp_path / "f", force=True) == tmp_path / "f"
