"""The Train page's settings: every `python -m vae train` option a user tunes, and its recipe as a command.

    s = settings_form()                    # draws the widgets; a TrainSettings, or None with an error shown
    model_config = s.model_config(dataset.image_shape)
    recipe_block(model_config, train_config)          # "python -m vae train ..." in a code block

Defaults per data set are recipes that give a good model in about a minute on a CPU core: for digits the
bundled digits-2d recipe (200 epochs, ~50 s on a loaded 2-core machine, test loss ~24 nats).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from vae.config import ACTIVATIONS, ARCHITECTURES, LIKELIHOODS, LR_SCHEDULES, ModelConfig, TrainConfig
from vae.data import BINARIZE_MODES, DATASET_NAMES
from vae.dataset_names import is_idx_dataset
from vae.device import available_devices
from vae.objective_specs import OBJECTIVE_SPECS

from vae.ui.hosting import hosting_ui
from vae.ui import loaders
from vae.ui.training import model_size

# Per data set: (hidden widths, latent size, epochs, batch size). digits = the bundled digits-2d recipe.
DEFAULTS = {
    "digits": ("256 128", 2, 200, 64),
    "shapes": ("256 128", 8, 5, 128),
    "mnist": ("400", 2, 5, 128),
    "fashion-mnist": ("400", 2, 5, 128),
}
IMAGE_SIZES = (0, 16, 28, 32, 64)          # 0: the data set's own size
LEARNING_RATES = (1e-4, 3e-4, 5e-4, 1e-3, 2e-3, 3e-3, 1e-2)


def parse_widths(text: str, what: str) -> tuple[int, ...]:
    """"500 500" or "500, 500" -> (500, 500). Raises ValueError naming `what` for anything else."""
    parts = text.replace(",", " ").split()
    try:
        widths = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(f"{what}: whole numbers separated by spaces, e.g. \"500 500\"; got {text!r}") from None
    if not widths or any(w < 1 for w in widths):
        raise ValueError(f"{what}: at least one positive width, e.g. \"500 500\"; got {text!r}")
    return widths


@dataclass
class TrainSettings:
    """What the form chose: the recipe, and the model fields that do not depend on the data's image shape."""

    train_config: TrainConfig
    arch: str
    latent_dim: int
    hidden: tuple[int, ...]
    conv_channels: tuple[int, ...] | None      # None: the CLI's default for the image size
    activation: str
    likelihood: str
    options: dict = field(default_factory=dict)  # dataset options (n_train, n_test, image_size)

    def model_config(self, image_shape: tuple[int, int, int]) -> ModelConfig:
        """The ModelConfig for images (C, H, W), as `python -m vae train` would build it."""
        c, h, _ = image_shape
        conv = self.conv_channels
        if conv is None:
            conv = (32, 32, 64, 64) if self.arch == "conv" and h == 64 else (32, 64)
        return ModelConfig(arch=self.arch, channels=c, image_size=h, latent_dim=self.latent_dim, hidden=self.hidden,
                           conv_channels=conv, activation=self.activation, likelihood=self.likelihood)


OBJECTIVE_LABELS = {s.name: f"{s.name} ({s.label})" for s in OBJECTIVE_SPECS.values()}
DISC_WIDTHS = ("256 256", "256 256 256", "512 512 512", "1000 1000 1000")


def factorvae_inputs(disabled: bool) -> dict:
    """FactorVAE's settings (shown only for it): gamma, the discriminator's widths and learning rate."""
    gamma = st.number_input("gamma (total-correlation weight)", 0.0, 100.0, value=10.0, step=1.0, key="tr_gamma",
                            disabled=disabled, help="weight of the discriminator's estimate of the total "
                                                    "correlation; Kim & Mnih used 10 to 40 on dSprites (--gamma)")
    widths = st.selectbox("Discriminator layers", DISC_WIDTHS, index=1, key="tr_disc_hidden", disabled=disabled,
                          help="hidden widths of the discriminator MLP; Kim & Mnih used 6 x 1000 (--disc-hidden)")
    disc_lr = st.select_slider("Discriminator learning rate", (1e-5, 1e-4, 3e-4, 1e-3), value=1e-4,
                               key="tr_disc_lr", disabled=disabled, format_func=lambda v: f"{v:g}",
                               help="its own Adam, betas (0.5, 0.9) (--disc-lr)")
    return {"gamma": float(gamma), "disc_hidden": parse_widths(widths, "Discriminator layers"),
            "disc_lr": float(disc_lr)}


def settings_form(disabled: bool = False) -> TrainSettings | None:
    """Draw the settings (in four columns); None, with the reason shown, when a field does not parse."""
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        dataset = st.selectbox("Dataset", DATASET_NAMES, key="tr_dataset", disabled=disabled)
        hidden_default, latent_default, epochs_default, batch_default = DEFAULTS.get(dataset, DEFAULTS["mnist"])
        data_dir = None
        options: dict = {}
        if is_idx_dataset(dataset):
            data_dir = hosting_ui.idx_folder_input(dataset, disabled=disabled)
        if dataset == "shapes":
            options["n_train"] = st.select_slider("Training images", [2000, 5000, 10000, 20000], value=5000,
                                                  key="tr_n_train", disabled=disabled)
        size = st.selectbox("Image size", IMAGE_SIZES, key=f"tr_image_size_{dataset}", disabled=disabled,
                            format_func=lambda s: "the data set's own" if s == 0 else f"{s}x{s}",
                            help="resize the images (--image-size); conv takes 28, 32 or 64 pixels")
        if size:
            options["image_size"] = int(size)
        binarize = st.selectbox("Binarize", BINARIZE_MODES, key="tr_binarize", disabled=disabled,
                                help="static: one Bernoulli draw of the pixels; dynamic: a fresh draw each epoch "
                                     "(the usual MNIST benchmark setting)")
    with c2:
        arch = st.selectbox("Architecture", ARCHITECTURES, key="tr_arch", disabled=disabled,
                            help="conv needs 28, 32 or 64-pixel images (not digits, 8x8, unless resized)")
        latent_dim = st.number_input("Latent size", 2, 128, value=latent_default, key=f"tr_latent_{dataset}",
                                     disabled=disabled)
        hidden_text = st.text_input("Hidden layers" if arch == "mlp" else "Fully connected width",
                                    value=hidden_default if arch == "mlp" else "256", key=f"tr_hidden_{dataset}_{arch}",
                                    disabled=disabled,
                                    help="widths of the encoder's hidden layers, e.g. \"500 500\"; the decoder "
                                         "mirrors them (--hidden)")
        conv_text = None
        if arch == "conv":
            conv_text = st.text_input("Conv channels", value="32 64", key="tr_conv_channels", disabled=disabled,
                                      help="channels of each stride-2 conv stage, e.g. \"32 64\" (--conv-channels)")
        activation = st.selectbox("Activation", ACTIVATIONS, key="tr_activation", disabled=disabled,
                                  help="between the fully connected layers; Burda et al.'s MNIST MLP used tanh")
        likelihood = st.selectbox("Likelihood p(x|z)", LIKELIHOODS, key="tr_likelihood", disabled=disabled,
                                  help="bernoulli: cross-entropy; gaussian: squared error with a fixed std of 0.1")
    with c3:
        epochs = st.number_input("Epochs", 1, 5000, value=epochs_default, key=f"tr_epochs_{dataset}",
                                 disabled=disabled)
        batch_size = st.select_slider("Batch size", [16, 32, 64, 100, 128, 256, 512, 1024], value=batch_default,
                                      key=f"tr_batch_{dataset}", disabled=disabled)
        objective = st.selectbox("Objective", list(OBJECTIVE_SPECS), key="tr_objective", disabled=disabled,
                                 format_func=lambda o: OBJECTIVE_LABELS.get(o, o),
                                 help="; ".join(f"{s.name}: {s.summary}" for s in OBJECTIVE_SPECS.values())
                                      + " (--objective)")
        if objective == "tcvae":
            beta = st.number_input("beta (total-correlation weight)", 0.0, 50.0, value=6.0, step=0.5,
                                   key="tr_tc_beta", disabled=disabled,
                                   help="weight of the total correlation of q(z); the mutual information and the "
                                        "dimension-wise KL keep weight 1 (estimated by minibatch-weighted sampling); "
                                        "1 gives the ELBO (--beta)")
        else:
            beta = st.number_input("beta (KL weight)", 0.0, 50.0, value=1.0, step=0.25, key="tr_beta",
                                   disabled=disabled,
                                   help="1 is the true ELBO; > 1 a beta-VAE (more disentangled, blurrier)")
        warmup = st.number_input("KL warm-up (epochs)", 0, 1000, value=0, key="tr_warmup", disabled=disabled,
                                 help="the regulariser's weight (KL, or the TC terms) rises linearly from 0 to "
                                      "full over these epochs")
        k, factor = 1, {}
        if objective == "iwae":
            k = st.select_slider("IWAE samples k", [1, 5, 50], value=5, key="tr_k", disabled=disabled,
                                 help="importance samples per image (--k)")
        if objective == "factorvae":
            factor = factorvae_inputs(disabled)
    with c4:
        lr = st.select_slider("Learning rate", LEARNING_RATES, value=1e-3, key="tr_lr", disabled=disabled,
                              format_func=lambda v: f"{v:g}")
        lr_schedule = st.selectbox("LR schedule", LR_SCHEDULES, key="tr_lr_schedule", disabled=disabled,
                                   help="cosine / exponential: decay from the learning rate to the final rate by "
                                        "the last epoch, starting after the decay-start epoch")
        lr_min, lr_decay_start = float(lr) / 100, 0
        if lr_schedule != "constant":
            lr_min = st.number_input("Final learning rate", 1e-7, 1.0, value=float(lr) / 100, format="%.1e",
                                     key="tr_lr_min", disabled=disabled)
            lr_decay_start = st.number_input("Decay starts after epoch", 0, 5000, value=0, key="tr_lr_decay_start",
                                             disabled=disabled)
        seed = st.number_input("Seed", 0, 2**31 - 1, value=0, key="tr_seed", disabled=disabled)
        device = st.selectbox("Device", available_devices(), key="tr_device", disabled=disabled)
    try:
        hidden = parse_widths(hidden_text, "Hidden layers")
        conv_channels = parse_widths(conv_text, "Conv channels") if conv_text is not None else None
        train_config = TrainConfig(dataset=dataset, data_dir=data_dir, epochs=int(epochs), batch_size=int(batch_size),
                                   lr=float(lr), lr_schedule=lr_schedule, lr_min=float(lr_min),
                                   lr_decay_start=int(lr_decay_start), beta=float(beta), warmup=int(warmup),
                                   binarize=binarize, objective=objective, k=int(k) if objective == "iwae" else 1,
                                   seed=int(seed), device=device, extra=dict(options), **factor)
    except ValueError as e:          # ConfigError is a ValueError
        st.error(str(e))
        return None
    settings = TrainSettings(train_config, arch, int(latent_dim), hidden, conv_channels, activation, likelihood,
                             options)
    return settings if model_size.fits(settings) else None          # Start stays disabled, the reason shown


def recipe_block(model_config: ModelConfig | dict, train_config: TrainConfig | dict, out: str = "runs/my-vae",
                 caption: str = "The same recipe from a terminal:") -> None:
    """The equivalent `python -m vae train ...` command in a code block (with a copy button)."""
    from vae.train.recipe import train_command

    mc = model_config if isinstance(model_config, ModelConfig) else ModelConfig.from_dict(model_config)
    tc = train_config if isinstance(train_config, TrainConfig) else TrainConfig.from_dict(train_config)
    try:
        line = train_command(mc, tc, out=out)
    except ValueError as e:
        st.caption(f"This recipe has no command-line equivalent: {e}")
        return
    st.caption(caption)
    st.code(line, language="bash", wrap_lines=True)


_MISSING = "_tr_missing_data"       # (dataset name, the DataError's message) after a Start that found no data


def no_training_split_message(name: str, data_dir: str | None) -> str:
    """Why a data set without its training images cannot train, in words for a person (one line)."""
    where = "the folder above holds only its test images" if data_dir else \
        "only its test images are on this server (bundled with the app)"
    return (f"{name}: {where}, and a model is never trained on its test images; download {name} below "
            f"or name a folder holding its four files (training and test) above")


def note_missing_data(name: str, message: str) -> None:
    st.session_state[_MISSING] = (name, message)


def missing_data_notice(train_config: TrainConfig | None) -> None:
    """After a Start that found no training data: the DataError's message, and for MNIST / Fashion-MNIST
    without a folder the download (with a progress bar), or the hint to name a folder above."""
    missing = st.session_state.get(_MISSING)
    if not missing:
        return
    name, message = missing
    if train_config is None or train_config.dataset != name:
        st.session_state.pop(_MISSING, None)
        return
    message = message.split("\n(")[0]      # the library's parenthesised hint names its functions; the page says its own
    st.error(f"No training data: {message}", icon=":material/database_off:")
    if not is_idx_dataset(name):
        return
    if train_config.data_dir:
        st.caption("Check the folder above: it must hold the four IDX files (the training split too: the test "
                   "split alone cannot train a model). Empty it to use the download cache.")
        return
    st.caption(f"Download {name} (about 11 to 30 MB, checked against the official checksums) into the cache, or "
               "name a folder holding its IDX files above.")
    if st.button(f"Download {name}", key=f"tr_download_{name}", icon=":material/cloud_download:"):
        spec = loaders.DatasetSpec(name, None, tuple(sorted(train_config.extra.items())))
        if loaders.download_with_progress(spec) is None:
            return
        st.session_state.pop(_MISSING, None)
        st.success(f"{name} is downloaded: press Start.")
