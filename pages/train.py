"""Train: a VAE on a dataset, live, in a background thread that survives page switches and reloads."""

import numpy as np
import streamlit as st

from vae.config import ARCHITECTURES, LIKELIHOODS, LR_SCHEDULES, OBJECTIVES, ModelConfig, TrainConfig
from vae.data import BINARIZE_MODES, DATASET_NAMES
from vae.device import available_devices
from vae.ui import loaders, training
from vae.ui.figures import training_curves_figure
from vae.ui.images import grid, show
from vae.ui.sidebar import current
from vae.ui.training import (ACTIVE_STATES, describe_progress, explore_trained_model, save_trained_model,
                             zip_of_checkpoint)

ctx = current()
st.title("Train a VAE")
job = training.job_for(ctx.bid)
snap = job.snapshot() if job is not None else None
running = snap is not None and snap.state in ACTIVE_STATES
st.session_state["_train_seen_state"] = snap.state if snap else None

with st.expander("Settings", expanded=not running, icon=":material/settings:"):
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        dataset = st.selectbox("Dataset", DATASET_NAMES, key="tr_dataset")
        data_dir = None
        options: dict = {}
        if dataset in ("mnist", "fashion-mnist"):
            data_dir = st.text_input("IDX folder (empty: download cache)", key=f"tr_dir_{dataset}",
                                     value=loaders.default_data_dir(dataset) or "").strip() or None
        if dataset == "shapes":
            options["n_train"] = st.select_slider("Training images", [2000, 5000, 10000, 20000], value=5000,
                                                  key="tr_n_train")
        binarize = st.selectbox("Binarize", BINARIZE_MODES, key="tr_binarize",
                                help="static: one Bernoulli draw of the pixels; dynamic: a fresh draw each epoch")
    with c2:
        arch = st.selectbox("Architecture", ARCHITECTURES, key="tr_arch",
                            help="conv needs 28, 32 or 64-pixel images (not digits, 8x8)")
        latent_dim = st.number_input("Latent size", 2, 128, value=2, key="tr_latent")
        hidden = st.number_input("Hidden width", 8, 2048, value=128 if dataset == "digits" else 400, step=8,
                                 key=f"tr_hidden_{dataset}")
        likelihood = st.selectbox("Likelihood p(x|z)", LIKELIHOODS, key="tr_likelihood")
    with c3:
        beta = st.number_input("beta (KL weight)", 0.0, 20.0, value=1.0, step=0.25, key="tr_beta")
        warmup = st.number_input("KL warm-up (epochs)", 0, 100, value=0, key="tr_warmup")
        objective = st.selectbox("Objective", OBJECTIVES, key="tr_objective",
                                 help="elbo: the one-sample ELBO; iwae: Burda et al.'s k-sample importance-weighted bound")
        k = st.select_slider("IWAE samples k", [1, 5, 50], value=5, key="tr_k", disabled=objective != "iwae")
        epochs = st.number_input("Epochs", 1, 500, value=20 if dataset == "digits" else 5, key=f"tr_epochs_{dataset}")
    with c4:
        batch_size = st.select_slider("Batch size", [16, 32, 64, 128, 256, 512, 1024], value=128, key="tr_batch")
        lr = st.select_slider("Learning rate", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2], value=1e-3, key="tr_lr",
                              format_func=lambda v: f"{v:g}")
        lr_schedule = st.selectbox("LR schedule", LR_SCHEDULES, key="tr_lr_schedule",
                                   help="cosine / exponential: decay from the learning rate to 1/100 of it "
                                        "by the last epoch; burda: x10^(-1/7) after 1, 4, 13, 40, ... epochs")
        seed = st.number_input("Seed", 0, 2**31 - 1, value=0, key="tr_seed")
        device = st.selectbox("Device", available_devices(), key="tr_device")

b1, b2, b3, b4 = st.columns([1, 1, 1, 3], vertical_alignment="bottom")
start = b1.button("Start", type="primary", disabled=running, icon=":material/play_arrow:", width="stretch")
if b2.button("Stop", disabled=not running, icon=":material/stop:", width="stretch"):
    job.stop()
    job.wait(10)
    st.rerun()
can_resume = snap is not None and snap.state in ("stopped", "finished") and snap.checkpoint_path is not None
extra = b4.number_input("Extra epochs on resume", 0, 500, value=0 if snap and snap.state == "stopped" else 5,
                        key="tr_extra", disabled=not can_resume)
if b3.button("Resume", disabled=not can_resume, icon=":material/resume:", width="stretch"):
    try:
        job.resume(int(extra))
        st.rerun()
    except RuntimeError as e:
        st.error(str(e))

if start:
    try:
        spec = loaders.DatasetSpec(dataset, data_dir, tuple(sorted(options.items())))
        with st.spinner(f"Loading {dataset} ..."):
            ds = loaders.load_dataset_cached(spec)
        c, h, _ = ds.image_shape
        model_config = ModelConfig(arch=arch, channels=c, image_size=h, latent_dim=int(latent_dim),
                                   hidden=(int(hidden),), likelihood=likelihood)
        train_config = TrainConfig(dataset=dataset, data_dir=data_dir, epochs=int(epochs), batch_size=int(batch_size),
                                   lr=float(lr), lr_schedule=lr_schedule, lr_min=float(lr) / 100,
                                   beta=float(beta), warmup=int(warmup), binarize=binarize, objective=objective,
                                   k=int(k) if objective == "iwae" else 1,
                                   seed=int(seed), device=device, extra=options)
        training.start_job(ctx.bid, model_config, train_config, ds, device=device)
        st.rerun()
    except Exception as e:  # ConfigError, DataError, RuntimeError: say what is wrong, keep the page
        st.error(f"Could not start training: {e}")

if job is None:
    st.info("Choose the settings and press **Start**. Training runs in the background: you can switch pages "
            "or reload and come back; the model appears in the sidebar under *Trained in this session*.")
    st.stop()


@st.fragment(run_every=1.0 if running else None)
def live_progress():
    s = job.snapshot()
    if s.state != st.session_state.get("_train_seen_state"):
        st.rerun(scope="app")        # finished / stopped / failed: redraw the buttons and the sidebar
    st.progress(min(max(s.progress, 0.0), 1.0), text=describe_progress(s))
    if s.state == "failed":
        st.error(f"Training failed: {s.error}")
        if s.checkpoint_path:
            st.info(f"The last good checkpoint is kept: {s.checkpoint_path} (epoch {len(s.epoch_history)}).")
    st.plotly_chart(training_curves_figure(s.step_history, s.epoch_history), key="train_curves",
                    config={"displayModeBar": False})
    left, right = st.columns(2)
    if s.recon_pairs is not None:
        orig, rec = s.recon_pairs
        show(grid(np.concatenate([orig, rec]), ncol=len(orig), width=480), container=left,
             caption=f"test images (top) and their reconstructions (bottom), epoch {s.epoch}")
    if s.samples is not None:
        show(grid(s.samples, ncol=8, width=480), container=right, caption=f"decoded prior samples, epoch {s.epoch}")
    if s.epoch_history:
        st.dataframe(s.epoch_history, hide_index=True, width="stretch",
                     column_order=["epoch", "train_loss", "test_loss", "recon", "kl", "test_recon", "test_kl",
                                   "train_iwae_loss", "test_iwae_loss", "beta", "seconds", "samples_per_s"])


live_progress()

if snap.checkpoint_path and not running:
    st.subheader("Use the model")
    u1, u2, u3 = st.columns([1, 1, 2], vertical_alignment="bottom")
    u1.button("Explore it on every page", on_click=explore_trained_model, type="primary",
              icon=":material/explore:", width="stretch")
    u2.download_button("Download (.zip)", data=lambda: zip_of_checkpoint(snap.checkpoint_path),
                       file_name=f"vae-{snap.model_config.get('latent_dim', '')}d-epoch{snap.epoch}.zip",
                       mime="application/zip", on_click="ignore", icon=":material/download:", width="stretch")
    with u3:
        dest = st.text_input("Save to folder", placeholder="runs/my-vae", key="tr_save_dir")
        if st.button("Save", disabled=not dest.strip(), icon=":material/save:"):
            try:
                path = save_trained_model(job, dest.strip())
                st.success(f"Saved to {path}")
            except Exception as e:
                st.error(f"Could not save: {e}")
