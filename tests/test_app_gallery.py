"""The gallery in the app under AppTest: the page's leaderboard and filter, publishing from the sidebar, a
`gallery:<id>` link opening the model, owner-only editing when hosted, Compare's candidates."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from vae.checkpoint import read_checkpoint_folder  # noqa: E402
from vae.gallery import Gallery  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")


@pytest.fixture
def gallery(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_GALLERY_DIR", str(tmp_path / "gallery"))
    g = Gallery(tmp_path / "gallery")
    files = read_checkpoint_folder(REPO / "assets" / "digits-2d")
    g.publish(files, name="good digits", owner_token="someone-else", dataset="digits", architecture="mlp",
              elbo=-25.0, iwae=-23.0, iwae_k=100, n_test=300)
    g.publish(files, name="bad digits", owner_token="someone-else", dataset="digits", architecture="mlp",
              elbo=-40.0, iwae=-35.0, iwae_k=100, n_test=300)
    g.publish(read_checkpoint_folder(REPO / "assets" / "shapes-8d"), name="shapes one", owner_token="x",
              dataset="shapes", elbo=-50.0, iwae=-45.0)
    return g


def _run(page: str | None = None, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    if page:
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
    return at


def test_gallery_page_ranks_filters_and_hides_editing_from_others_when_hosted(gallery, monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_HOSTED", "1")
    at = _run("gallery")
    df = at.dataframe[0].value
    assert list(df["name"]) == ["good digits", "bad digits", "shapes one"]      # per data set, best IWAE first
    assert list(df["rank"]) == [1, 2, 1]                                       # ranked within its data set
    at.selectbox(key="gal_dataset").select("shapes").run()
    assert list(at.dataframe[0].value["name"]) == ["shapes one"]
    assert not [b for b in at.button if b.label == "Delete"]
    assert any("Only whoever published" in c.value for c in at.caption)


def test_locally_every_entry_is_yours_and_delete_removes_it(gallery):
    at = _run("gallery")
    at.selectbox(key="gal_sort").select("name").run()
    assert list(at.dataframe[0].value["name"]) == ["bad digits", "good digits", "shapes one"]
    pick = at.selectbox(key="gal_pick")
    entry_id = pick.value
    name = gallery.get(entry_id).name
    at.checkbox(key=f"gal_sure_{entry_id}").check().run()
    at.button(key="gal_delete").click().run()
    assert not at.exception
    assert name not in [e.name for e in gallery.list()]


def test_a_gallery_link_opens_the_model_and_the_link_names_it(gallery):
    entry = [e for e in gallery.list() if e.name == "shapes one"][0]
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["model"] = f"gallery:{entry.id}"
    at.query_params["z"] = ",".join(["0.5"] * 8)
    at.query_params["proj"] = "pca"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    ctx = at.session_state["_vae_context"]
    assert ctx.lm.source == "gallery" and ctx.lm.label == "shapes one" and ctx.lm.ref == f"gallery:{entry.id}"
    assert at.session_state["map_method_False"] == "pca"          # the projection travels too
    from vae.ui.url_state import view_params
    assert view_params(ctx)["model"] == f"gallery:{entry.id}"     # and a link made here names the entry


def test_publish_measures_on_the_models_own_data_and_adds_an_entry(gallery):
    """The glue the Publish buttons call (the buttons themselves are pressed in tests/e2e/test_gallery.py)."""
    from vae.ui.gallery.publish import publish_files

    entry, why = publish_files(read_checkpoint_folder(REPO / "assets" / "digits-2d"), "published", "a note")
    assert why is None
    [e] = [e for e in gallery.list() if e.name == "published"]
    assert e.id == entry.id and e.dataset == "digits" and e.note == "a note" and e.iwae_k == 100
    assert e.elbo < e.iwae < 0                   # the bound lies below the estimate it bounds


def test_publish_over_the_limit_says_so_and_adds_nothing(gallery, monkeypatch):
    from vae.gallery import GalleryRefused
    from vae.ui.gallery.publish import publish_files

    monkeypatch.setenv("VAE_GALLERY_MAX_MODEL_MB", "0.01")
    with pytest.raises(GalleryRefused, match="VAE_GALLERY_MAX_MODEL_MB"):
        publish_files(read_checkpoint_folder(REPO / "assets" / "digits-2d"), "too big", "")
    assert "too big" not in [e.name for e in gallery.list()]


def test_add_to_compare_puts_the_entry_among_the_compared_models(gallery):
    entry = [e for e in gallery.list() if e.name == "bad digits"][0]
    at = _run("gallery", sb_bundled="digits-2d")
    at.selectbox(key="gal_pick").select(entry.id).run()
    at.button(key="gal_compare").click().run()
    assert not at.exception
    at.switch_page("pages/compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
    [chosen] = [m for m in at.multiselect if m.label == "Models"]
    assert f"gallery: bad digits ({entry.id})" in chosen.value
    assert f"gallery: shapes one ({[e for e in gallery.list() if e.name == 'shapes one'][0].id})" in chosen.options


def test_a_link_to_a_deleted_gallery_model_says_so_and_shows_the_default(gallery):
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["model"] = "gallery:0123456789"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("no longer in the gallery" in w.value for w in at.sidebar.warning)
    assert at.session_state["_vae_context"].lm.source == "bundled"


def test_locally_rename_changes_the_name_and_an_empty_name_is_refused(gallery):
    at = _run("gallery")
    entry_id = at.selectbox(key="gal_pick").value
    at.text_input(key=f"gal_new_name_{entry_id}").input("renamed here")
    at.button(key="gal_rename").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert gallery.get(entry_id).name == "renamed here", ([e.value for e in at.error], [s.value for s in at.success],
                                                          at.text_input(key=f"gal_new_name_{entry_id}").value)
    at.text_input(key=f"gal_new_name_{entry_id}").input("   ")
    at.button(key="gal_rename").click().run()
    assert any("needs a name" in e.value for e in at.error)
    assert gallery.get(entry_id).name == "renamed here"


def test_locally_the_page_lists_your_runs_not_yet_in_the_gallery_and_adds_one(gallery, tmp_path, monkeypatch):
    """Issue 23: locally the gallery is the person's own models, so the page lists their runs (runs/NAME, as
    `python -m vae train --out runs/NAME` writes), not only what was published; hosted it never lists folders."""
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(REPO / "assets" / "digits-2d", runs / "already")        # the content of "good digits"
    shutil.copytree(REPO / "assets" / "mnist-2d-small", runs / "sweep" / "beta-1")
    (runs / "half-written").mkdir()
    (runs / "half-written" / "config.json").write_text("{}")
    monkeypatch.setenv("VAE_RUNS_DIR", str(runs))
    at = _run("gallery")
    box = at.selectbox(key="gal_local_run")
    assert [Path(o).name for o in box.options] == ["beta-1"]              # not the published one, not half a run
    at.text_input(key="gal_local_name").input("my sweep's beta 1").run()
    at.button(key="gal_local_add").click().run()
    assert not at.exception, [e.value for e in at.exception]
    entry = next(e for e in gallery.list() if e.name == "my sweep's beta 1")
    assert entry.dataset == "mnist" and entry.iwae is not None              # measured like any publish
    assert any("Added **my sweep's beta 1**" in s.value for s in at.success)
    assert any("Every run under" in c.value for c in at.caption)            # nothing left to add
    monkeypatch.setenv("VAE_EXPLORER_HOSTED", "1")
    hosted = _run("gallery")
    assert not [s for s in hosted.selectbox if s.key == "gal_local_run"]
