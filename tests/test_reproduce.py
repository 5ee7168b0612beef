"""`python -m camlib reproduce`: chosen on validation, reported on test; from the shipped checkpoints or --train."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from camlib import localization, reproduce, zoo
from camlib.__main__ import main
from camlib.profile import get_profile
from camlib.reproduce import compare
from camlib.reproduce.report import SUFFIXES
from camlib.train.cli import add_cli as add_train_cli

SHIPPED = all(n in zoo.available() for n in ("gap", "gmp", "fc"))
pytestmark = pytest.mark.skipif(
    not SHIPPED, reason="needs the shipped gap/gmp/fc checkpoints (data/checkpoints)"
)


def test_reproduce_cli_writes_the_table_json_and_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / f"reproduce_{get_profile().name}.md"
    stale.write_text("an earlier report")  # a report is regenerated: replaced (atomically), not refused
    assert main(["reproduce", "--limit", "96", "--val-limit", "64", "--out", str(tmp_path), "--json"]) == 0
    assert stale.read_text() != "an earlier report"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(stale.with_suffix(s).name for s in SUFFIXES)
    printed = json.loads(capsys.readouterr().out)
    meta = printed.pop("_meta")
    saved = json.loads((tmp_path / f"reproduce_{meta['profile']}.json").read_text())
    assert saved["rows"] == printed and saved["test_images"] == meta["test_images"] == 96
    assert list(saved["rows"]) == [row.label for row in reproduce.ROWS]
    # the report says which split chose tau, on how many images, and the tau of each method
    sel = saved["selection"]
    assert sel["split"] == "val" == meta["tau_split"] and sel["val_images"] == meta["val_images"] == 64
    with_model = [row.label for row in reproduce.ROWS if row.model is not None]
    assert list(sel["taus"]) == with_model and all(t["split"] == "val" for t in sel["taus"].values())
    for label in with_model:
        assert saved["rows"][label]["chosen_tau"] == round(sel["taus"][label]["tau"], 2)
    table = (tmp_path / f"reproduce_{meta['profile']}.md").read_text()
    assert "Chosen on validation, reported on test." in table and "64 validation images" in table
    for row in reproduce.ROWS:
        assert f"| {row.label} |" in table
    assert (tmp_path / f"reproduce_{meta['profile']}.png").stat().st_size > 10_000
    gap = saved["rows"][reproduce.ROWS[0].label]
    for key, value in gap.items():
        if isinstance(value, float):
            assert 0.0 <= value <= 100.0, (key, value)


def test_recipe_reruns_each_shipped_command_with_the_same_model_and_training(tmp_path: Path) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_train_cli(parser.add_subparsers())
    for name in ("gap", "gmp", "fc"):
        recorded = shlex.split(zoo.entry(name).command)[3:]
        argv = reproduce.recipe(zoo.entry(name).command, out=tmp_path / "x.pt", seed=3)
        old, new = parser.parse_args(recorded), parser.parse_args(argv)
        for field in (
            "model",
            "epochs",
            "widths",
            "downsample",
            "lr",
            "weight_decay",
            "train_size",
            "data_seed",
        ):
            assert getattr(new, field) == getattr(old, field), (name, field)
        assert new.seed == 3 and new.out == tmp_path / "x.pt" and new.zoo is None and new.profile == "fast"


def test_recipe_for_the_full_profile_drops_the_recorded_sizes(tmp_path: Path) -> None:
    argv = reproduce.recipe(zoo.entry("gap").command, out=tmp_path / "x.pt", profile="full", device="cuda")
    assert not set(argv) & set(reproduce.SIZE_FLAGS)
    assert argv[argv.index("--profile") + 1] == "full" and argv[argv.index("--device") + 1] == "cuda"
    recorded = shlex.split(zoo.entry("gap").command)
    assert argv[argv.index("--epochs") + 1] == recorded[recorded.index("--epochs") + 1]


def test_recipe_refuses_what_is_not_a_train_command(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="python -m camlib train"):
        reproduce.recipe("python -m camlib evaluate gap.pt", out=tmp_path / "x.pt")


def test_train_reruns_the_recorded_commands_and_gets_the_same_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # a zoo of three tiny models, registered by the CLI
    monkeypatch.setenv(zoo.ENV_VAR, str(tmp_path / "zoo"))
    small = [
        "--train-size",
        "96",
        "--val-size",
        "32",
        "--test-size",
        "48",
        "--image-size",
        "32",
        "--epochs",
        "1",
    ]
    small += ["--widths", "8,16", "--downsample", "2", "--batch-size", "16", "--no-progress"]
    for name in ("gap", "gmp", "fc"):
        assert (
            main(["train", "--model", name, "--out", str(tmp_path / f"{name}.pt"), "--zoo", name, *small])
            == 0
        )
    capsys.readouterr()
    rows = {}
    for extra in ([], ["--train"]):
        assert main(["reproduce", "--out", str(tmp_path / "out"), "--json", *extra]) == 0
        out = capsys.readouterr().out  # --train: the train commands' reports, then the JSON
        assert out.count("test accuracy") == (3 if extra else 0)  # three models really trained
        rows[bool(extra)] = json.loads(out[out.rindex("\n{") + 1 if "\n{" in out else 0 :])
    assert rows[True].pop("_meta")["source"].startswith("trained now")
    assert rows[False].pop("_meta")["source"].startswith("shipped")
    assert rows[True] == rows[False]  # same commands, same seed: the same weights, the same table


def test_thresholds_are_chosen_on_validation_images_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # every dataset select_tau receives is the validation split; localize measures the test split with its tau
    chosen: list[str] = []
    measured: list[tuple[str, float | None]] = []
    real_select, real_localize = compare.select_tau, compare.localize

    def spy_select(model, ds, method=None, **kw):  # type: ignore[no-untyped-def]
        chosen.append(ds.split)
        return real_select(model, ds, method, **kw)

    def spy_localize(model, ds, method=None, **kw):  # type: ignore[no-untyped-def]
        measured.append((ds.split, kw.get("chosen_tau")))
        return real_localize(model, ds, method, **kw)

    monkeypatch.setattr(compare, "select_tau", spy_select)
    monkeypatch.setattr(compare, "localize", spy_localize)
    result = reproduce.run(limit=32, val_limit=32)
    n_model_rows = sum(r.model is not None for r in reproduce.ROWS)
    assert chosen == ["val"] * n_model_rows
    assert [split for split, _ in measured] == ["test"] * n_model_rows
    assert [tau for _, tau in measured] == [c.tau for c in result.taus.values()]
    assert all(c.split == "val" and c.num_images == 32 for c in result.taus.values())


def test_select_tau_never_reads_a_test_image() -> None:
    test = zoo.dataset("gap", "test")

    class Guard:
        """The test split, wrapped: reading any image fails the test."""

        split = test.split
        class_names = test.class_names

        def __len__(self) -> int:
            return len(test)

        def __getitem__(self, i: int) -> None:
            pytest.fail("select_tau read a test image")

        def batch(self, *a: object, **k: object) -> None:
            pytest.fail("select_tau read a test batch")

    with pytest.raises(ValueError, match="VALIDATION split, never on test; got the 'test' split"):
        localization.select_tau(zoo.load("gap"), Guard())  # type: ignore[arg-type]
