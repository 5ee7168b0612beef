"""scripts/tradeoff.py: the sweep trains what the train command trains, reads only train and val, and selects."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from camlib.checkpoint import load_checkpoint
from camlib.train.cli import main as train_main

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import tradeoff  # noqa: E402  (a script of the repository, beside its report half)


def test_a_sweep_model_is_the_model_of_the_train_command(tmp_path: Path) -> None:
    s = tradeoff.QUICK
    model, history = tradeoff.train_one(s, tradeoff.datasets(s), 2, 1)
    argv = [*s.train_argv(2, 1, 16), "--out", str(tmp_path / "cli.pt"), "--no-progress"]
    assert train_main(argv) == 0
    cli, meta = load_checkpoint(tmp_path / "cli.pt")
    assert set(model.state_dict()) == set(cli.state_dict())
    for k, v in model.state_dict().items():
        assert torch.equal(v, cli.state_dict()[k]), k
    assert meta["metrics"]["val_accuracy"] == history[-1].val_acc


def test_quick_sweep_writes_json_markdown_figure_and_never_reads_test(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    splits: list[str] = []
    real = tradeoff.Shapes

    def spy(*args: Any, **kw: Any) -> Any:
        splits.append(kw.get("split", args[0] if args else "train"))
        return real(*args, **kw)

    monkeypatch.setattr(tradeoff, "Shapes", spy)
    assert tradeoff.main(["--quick", "--out", str(tmp_path)]) == 0
    assert set(splits) == {"train", "val"}  # the test split is never built
    doc = json.loads((tmp_path / "tradeoff.json").read_text())
    assert doc["split"] == "val" and doc["val_images"] == tradeoff.QUICK.val_size
    assert sorted((r["budget"], r["seed"]) for r in doc["runs"]) == [(1, 0), (1, 1), (2, 0), (2, 1)]
    for r in doc["runs"]:
        assert 0 <= r["val_max_box_acc_v2"] <= 100 and 0 <= r["val_chosen_tau"] < 1
        assert r["val_accuracy"] == pytest.approx(r["history_val_accuracy"])  # two measurements, one model
    # the selection follows the rule, computed here independently from the runs (two seeds per budget)
    for name, key, other in (
        ("gap", "val_max_box_acc_v2", "val_accuracy"),
        ("gap_fast", "val_accuracy", "val_max_box_acc_v2"),
    ):
        vals = {b: [r[key] for r in doc["runs"] if r["budget"] == b] for b in (1, 2)}
        means = {b: sum(v) / 2 for b, v in vals.items()}
        best = min(b for b in (1, 2) if means[b] == max(means.values()))
        se = abs(vals[best][0] - vals[best][1]) / 2  # sd of two values / sqrt(2)
        tied = [b for b in (1, 2) if means[b] >= means[best] - se - 1e-9]
        second = {b: sum(r[other] for r in doc["runs"] if r["budget"] == b) for b in tied}
        want = min(b for b in tied if second[b] == max(second.values()))
        assert (
            doc["selection"][name]["budget"] == want and doc["selection"][name]["tied_within_one_se"] == tied
        )
    md = (tmp_path / "tradeoff.md").read_text()
    assert "best **mean validation MaxBoxAccV2**" in md and "the test split is not read" in md
    assert "--zoo gap" in md and "| 2 | 1 |" in md
    assert (tmp_path / "tradeoff.png").stat().st_size > 20_000
    # a second run resumes: nothing is trained again
    monkeypatch.setattr(tradeoff, "train_one", lambda *a, **k: pytest.fail("trained again"))
    assert tradeoff.main(["--quick", "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "tradeoff.json").read_text())["runs"] == doc["runs"]


def test_selection_rules() -> None:
    runs = [
        {"budget": b, "seed": s, "val_accuracy": acc, "val_max_box_acc_v2": v2}
        for b, s, acc, v2 in [(1, 0, 60, 80), (1, 1, 62, 81), (3, 0, 90, 79), (3, 1, 92, 84), (8, 0, 97, 70),
                              (8, 1, 97, 71)]
    ]  # fmt: skip
    sel = tradeoff.select(runs, "gap")
    assert sel["gap"]["budget"] == 3 and sel["gap"]["mean"] == 81.5  # best mean, not the best single run
    assert sel["gap"]["tied_within_one_se"] == [1, 3]  # 80.5 is within 2.5 (= sd 3.5 / sqrt 2) of 81.5
    assert sel["gap_fast"]["budget"] == 8 and sel["gap_fast"]["seeds"] == [0, 1]
    assert list(tradeoff.select(runs, "gmp")) == ["gmp"]
    assert tradeoff.best_budget([{"budget": 2, "a": 1.0}, {"budget": 1, "a": 1.0}], "a") == 1  # ties: fewer
    # a tie within the seeds' noise goes to the other metric: 2 epochs localize as well and classify better
    noisy = [
        {"budget": b, "seed": s, "val_accuracy": acc, "val_max_box_acc_v2": v2}
        for b, s, acc, v2 in [(1, 0, 66, 79.3), (1, 1, 65, 81.4), (2, 0, 82, 80.0), (2, 1, 81, 80.6)]
    ]
    sel = tradeoff.select(noisy, "gap")["gap"]
    assert sel["by_metric_alone"] == 1 and sel["tied_within_one_se"] == [1, 2] and sel["budget"] == 2


def test_bad_arguments_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        tradeoff.main(["--quick", "--seeds", "1,2"])
    assert "must include 0" in capsys.readouterr().err
