"""The Train page's "Save to folder" never destroys what is there (issue 15): a folder that is not a
checkpoint is refused with its files intact; an existing checkpoint is not replaced without asking."""

from __future__ import annotations

import pytest

pytest.importorskip("streamlit")

from tests.test_app_train import button, open_train  # noqa: E402
from tests.waits import HANG_S  # noqa: E402


def _save(at, dest: str):
    next(t for t in at.text_input if t.label == "Save to folder").input(dest)
    at.run()
    button(at, "Save").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return [e.value for e in at.error], [s.value for s in at.success]


def test_save_to_folder_refuses_foreign_folders_and_existing_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_ALLOWED_DIRS", str(tmp_path))     # /tmp is outside home and project
    from vae.config import ModelConfig, TrainConfig
    from vae.data import load_dataset
    from vae.ui.hosting import owner
    from vae.ui.training import jobs as training

    token = "5a" * 16
    job = training.start_job(owner.public_id(token), ModelConfig(image_size=8, latent_dim=2, hidden=(16,)),
                             TrainConfig(dataset="digits", epochs=1), load_dataset("digits"))
    assert job.wait(HANG_S) and job.snapshot().state == "finished"
    at = open_train(token=token)

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "thesis.tex").write_text("years of work")
    errors, ok = _save(at, str(docs))
    assert not ok and any("not a checkpoint of this project" in e and "thesis.tex" in e for e in errors), errors
    assert (docs / "thesis.tex").read_text() == "years of work"
    assert sorted(p.name for p in docs.iterdir()) == ["thesis.tex"]

    errors, ok = _save(at, str(tmp_path / "model"))
    assert ok and not errors
    first = (tmp_path / "model" / "model.safetensors").read_bytes()
    errors, ok = _save(at, str(tmp_path / "model"))            # an existing checkpoint: asked first
    assert not ok and not errors
    assert any("already holds a checkpoint" in w.value for w in at.warning), [w.value for w in at.warning]
    assert (tmp_path / "model" / "model.safetensors").read_bytes() == first
    button(at, "Keep it").click()
    at.run()
    assert not at.warning and (tmp_path / "model" / "model.safetensors").read_bytes() == first
    _save(at, str(tmp_path / "model"))
    button(at, "Replace").click()                              # confirmed: replaced
    at.run()
    assert not at.exception and any("Saved to" in m.value for m in at.success), [e.value for e in at.error]
    assert (tmp_path / "model" / "config.json").exists()
