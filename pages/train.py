"""Train: a VAE on a dataset, live, in a background thread that survives page switches and reloads."""

import numpy as np
import streamlit as st

from vae.ui.hosting import hosting_ui
from vae.ui import loaders
from vae.ui.training import settings as train_settings
from vae.ui.training import jobs as training
from vae.ui.training.curves import training_curves_figure
from vae.ui.images import grid, show
from vae.ui.training.live_map import live_map_panel
from vae.ui.training.runs_panel import runs_panel
from vae.ui.sidebar import current
from vae.ui.training.settings import missing_data_notice, note_missing_data, recipe_block
from vae.ui.training.jobs import (ACTIVE_STATES, describe_progress, explore_trained_model, zip_of_checkpoint)

ctx = current()
st.title("Train a VAE")
job = training.job_for(ctx.bid)
snap = job.snapshot() if job is not None else None
running = snap is not None and snap.state in ACTIVE_STATES
st.session_state["_train_seen_state"] = snap.state if snap else None

with st.expander("Settings", expanded=not running, icon=":material/settings:"):
    settings = train_settings.settings_form()
# Whatever comes and goes above the run's section sits in a container of its own, so the section's elements keep
# their places from run to run: a component whose place moves is drawn anew in the browser (the live map would
# lose its marks and images; streamlit/streamlit#3015)
with st.container():
    missing_data_notice(settings.train_config if settings else None)

stopped = snap is not None and snap.state == "stopped" and snap.checkpoint_path is not None
can_more = snap is not None and snap.state in ("stopped", "finished") and snap.checkpoint_path is not None
b1, b2, b3, b4, b5 = st.columns([1, 1, 1, 1.2, 1.2], vertical_alignment="bottom")
start = b1.button("Start", type="primary", disabled=running or settings is None, icon=":material/play_arrow:",
                  width="stretch")
stopping = running and training.stop_asked_at(ctx.bid, job) is not None     # pressed; the run checkpoints
b2.button("Stopping…" if stopping else "Stop", key="tr_stop", disabled=not running or stopping,
          icon=":material/stop:", width="stretch", on_click=training.stop_job, args=(ctx.bid, 1.0))
resume = b3.button("Resume", disabled=not stopped, icon=":material/resume:", width="stretch",
                   help=f"finish the run's {snap.epochs} epochs" if snap else "continue a stopped run")
extra = b4.number_input("More epochs", 1, 5000, value=10, key="tr_extra", disabled=not can_more)
more = b5.button("Train more", disabled=not can_more, icon=":material/add:", width="stretch",
                 help="continue the run for this many epochs more (the schedule stretches to the new total)")
with st.container():         # what a press says (an error, a spinner)
    if resume or more:
        try:
            training.resume_job(ctx.bid, job, int(extra) if more else 0)
            st.rerun()
        except (RuntimeError, ValueError) as e:
            st.error(str(e))

    if start and settings is not None:
        from vae.data import DataError, require_training_split

        tc = settings.train_config
        try:
            spec = loaders.DatasetSpec(tc.dataset, tc.data_dir, tuple(sorted(settings.options.items())))
            with st.spinner(f"Loading {tc.dataset} ..."):
                ds = loaders.load_dataset_cached(spec)
            if not len(ds.train):               # MNIST's bundled test split alone: said to a person, not the library's
                raise DataError(train_settings.no_training_split_message(tc.dataset, tc.data_dir))
            require_training_split(ds)
            training.start_job(ctx.bid, settings.model_config(ds.image_shape), tc, ds, device=tc.device)
            st.rerun()
        except DataError as e:
            note_missing_data(tc.dataset, str(e))
            st.rerun()
        except Exception as e:  # ConfigError, RuntimeError: say what is wrong, keep the page
            st.error(f"Could not start training: {e}")


@st.fragment(run_every=1.0 if running else None)
def live_progress():
    s = job.snapshot()
    if s.state != st.session_state.get("_train_seen_state"):
        st.rerun(scope="app")        # finished / stopped / failed: redraw the buttons and the sidebar
    st.progress(min(max(s.progress, 0.0), 1.0), text=describe_progress(s, stopping=stopping))
    # the notes that come and go sit in one container, so the elements after it (the live map's component
    # among them) keep their places from run to run: a component whose place moves can be drawn anew in the
    # browser, losing its marks and images
    with st.container():
        hosting_ui.queue_note(ctx.bid, s)
        hosting_ui.stop_note(ctx.bid, job, s)
        if s.state == "failed":
            st.error(f"Training failed: {s.error}")
            if s.checkpoint_path:
                st.info(f"The last good checkpoint (epoch {len(s.epoch_history)}) is kept: download it below or "
                        "open it on every page.")
    st.plotly_chart(training_curves_figure(s.step_history, s.epoch_history), key="train_curves",
                    config={"displayModeBar": False})
    left, right = st.columns(2)
    if s.recon_pairs is not None:
        orig, rec = s.recon_pairs
        show(grid(np.concatenate([orig, rec]), ncol=len(orig), width=480), container=left,
             caption=f"test images (top) and their reconstructions (bottom), epoch {s.epoch}")
    if s.samples is not None:
        show(grid(s.samples, ncol=8, width=480), container=right, caption=f"decoded prior samples, epoch {s.epoch}")
    live_map_panel(s, running, job.dataset)      # the run's own data (its images on hover), not the sidebar's
    if s.epoch_history:
        st.dataframe(s.epoch_history, hide_index=True, width="stretch",
                     column_order=["epoch", "train_loss", "test_loss", "recon", "kl", "test_recon", "test_kl",
                                   "train_iwae_loss", "test_iwae_loss", "train_tc", "disc_loss", "beta", "gamma",
                                   "seconds", "samples_per_s"])


def use_the_model() -> None:
    """Explore, download, save or publish the run's latest checkpoint."""
    st.subheader("Use the model")
    u1, u2, u3 = st.columns([1, 1, 2], vertical_alignment="bottom")
    u1.button("Explore it on every page", on_click=explore_trained_model, type="primary",
              icon=":material/explore:", width="stretch")
    u2.download_button("Download (.zip)", data=lambda: zip_of_checkpoint(snap.checkpoint_path),
                       file_name=f"vae-{snap.model_config.get('latent_dim', '')}d-epoch{snap.epoch}.zip",
                       mime="application/zip", on_click="ignore", icon=":material/download:", width="stretch")
    if not hosting_ui.hosted():          # a shared server never writes where a browser says
        with u3:
            training.save_form(job)
    with st.expander("Publish to the gallery", icon=":material/publish:"):
        from vae.checkpoint import read_checkpoint_folder
        from vae.ui.gallery.publish import publish_form

        publish_form("train", lambda: read_checkpoint_folder(snap.checkpoint_path))


# No st.stop() before a first run: a run that stops skips Streamlit's clean-up of the widgets it did not draw (the
# browser forgets a settings box of another dataset, the server kept checking its old text, issue 27).
if job is None:
    st.info("Choose the settings and press **Start**. Training runs in the background: you can switch pages "
            "or reload and come back; the model appears in the sidebar under *Trained in this session*.")
else:
    live_progress()
    recipe_block(snap.model_config, job.train_config, caption="This run's recipe from a terminal (Resume and Train "
                 "more change --epochs):")
    if snap.checkpoint_path and not running:
        use_the_model()
    runs_panel(ctx.bid)      # this browser's earlier runs beside this one, their curves overlaid
