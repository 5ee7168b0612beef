from __future__ import annotations

import dataclasses

import pytest

from camlib import profile as prof


def test_env_var_selects_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMLIB_PROFILE", "full")
    monkeypatch.setattr(prof, "accelerator_available", lambda: False)
    with pytest.warns(prof.SlowWarning, match="training takes hours"):  # full on a CPU says so
        assert prof.get_profile().name == "full"
    monkeypatch.setattr(prof, "accelerator_available", lambda: True)
    assert prof.get_profile().name == "full"
    monkeypatch.setenv("CAMLIB_PROFILE", " FAST ")
    assert prof.get_profile().image_size == 64


def test_default_follows_the_accelerator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAMLIB_PROFILE", raising=False)
    monkeypatch.setattr(prof, "accelerator_available", lambda: True)
    assert prof.get_profile().name == "full"
    monkeypatch.setattr(prof, "accelerator_available", lambda: False)
    assert prof.get_profile().name == "fast"


def test_frozen_and_overrides() -> None:
    p = prof.get_profile("fast", epochs=1)
    assert p.epochs == 1 and prof.get_profile("fast").epochs != 1 or prof.PROFILES["fast"].epochs == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.epochs = 5  # type: ignore[misc]
    full = prof.get_profile("full")
    assert full.image_size > p.image_size and full.train_size > p.train_size


def test_unknown_profile_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="CAMLIB_PROFILE=fast"):
        prof.get_profile("medium")
    monkeypatch.setenv("CAMLIB_PROFILE", "gpu")
    with pytest.raises(ValueError, match="unknown profile 'gpu'"):
        prof.get_profile()
