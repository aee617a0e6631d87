"""Disentanglement metrics on codes (latent means) against ground-truth factors. numpy + scikit-learn.

Each follows disentanglement_lib's protocol (Locatello et al. 2019) unless noted:

    mutual_info_matrix   I(z_i; v_j) in nats, (D, F), between discretised codes and discretised factors
    mig                  Chen et al. 2018: mean over factors of the gap between the two largest I(z_i; v_j),
                         divided by H(v_j)
    dci                  Eastwood & Williams 2018: one gradient-boosted tree classifier per factor gives an
                         importance matrix R (D, F); disentanglement (per dimension 1 - entropy of its row, base F,
                         weighted by the row's share of R), completeness (per factor 1 - entropy of its column,
                         base D), informativeness (mean test accuracy of the classifiers)
    sap                  Kumar et al. 2018: per (dimension, factor) how well that one dimension predicts the factor
                         (a linear SVM's accuracy, or R^2 for a continuous factor); the mean over factors of the
                         gap between the two best
    factorvae_score      Kim & Mnih 2018: majority-vote accuracy of "which factor was held fixed" from the
                         dimension of least normalised variance, on batches with one factor fixed

Factors here may be continuous (shapes: rotation, x, y are uniform; scale and shape take a few values).
Like disentanglement_lib, which scores discrete factors (dSprites' 40 rotations, 32 x and y positions), every
metric scores DISCRETE factors: `discretize_factors` keeps a factor with at most `num_bins` distinct values as
it is and cuts a continuous one into `num_bins` equal-width bins (the binning disentanglement_lib applies to
codes). Codes are binned into 20 equal-width bins per dimension for the MI matrix (disentanglement_lib's
`_histogram_discretize`, num_bins=20).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

NUM_BINS = 20   # disentanglement_lib's discretizer_fn num_bins for MIG


class FactorError(ValueError):
    """Data without ground-truth factors, or codes and factors that do not fit together."""


def _check(codes: np.ndarray, factors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes, factors = np.asarray(codes), np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors):
        raise FactorError(f"codes must be (N, D) and factors (N, F) with the same N, got {codes.shape} and "
                          f"{factors.shape}")
    if len(codes) < 2:
        raise FactorError(f"need at least 2 points, got {len(codes)}")
    if not (np.isfinite(codes).all() and np.isfinite(factors).all()):
        raise FactorError("codes and factors must be finite")
    return codes, factors


def histogram_discretize(values: np.ndarray, num_bins: int = NUM_BINS) -> np.ndarray:
    """float (N, K) -> int (N, K): each column cut into `num_bins` equal-width bins over its own range."""
    values = np.asarray(values, dtype=np.float64)
    out = np.zeros(values.shape, dtype=np.int64)
    for k in range(values.shape[1]):
        edges = np.histogram_bin_edges(values[:, k], bins=num_bins)
        out[:, k] = np.digitize(values[:, k], edges[1:-1])   # 0..num_bins-1, as disentanglement_lib
    return out


def discretize_factors(factors: np.ndarray, num_bins: int = NUM_BINS) -> np.ndarray:
    """float (N, F) -> int (N, F): a factor with <= num_bins distinct values becomes the index of its value;
    a continuous one is cut into num_bins equal-width bins (see the module docstring)."""
    factors = np.asarray(factors, dtype=np.float64)
    out = np.zeros(factors.shape, dtype=np.int64)
    for j in range(factors.shape[1]):
        values, index = np.unique(factors[:, j], return_inverse=True)
        if len(values) <= num_bins:
            out[:, j] = index.reshape(-1)
        else:
            out[:, j] = histogram_discretize(factors[:, j:j + 1], num_bins)[:, 0]
    return out


def discrete_entropy(labels: np.ndarray) -> np.ndarray:
    """int (N, F) -> (F,) entropy of each column, nats."""
    from sklearn.metrics import mutual_info_score

    return np.array([mutual_info_score(labels[:, j], labels[:, j]) for j in range(labels.shape[1])])


def mutual_info_matrix(codes: np.ndarray, factors: np.ndarray, num_bins: int = NUM_BINS) -> np.ndarray:
    """(D, F) mutual information I(z_i; v_j), nats, between binned codes (N, D) and discretised factors (N, F).

    Plug-in estimate (scikit-learn's mutual_info_score on the joint histogram), as disentanglement_lib."""
    from sklearn.metrics import mutual_info_score

    codes, factors = _check(codes, factors)
    zc, vc = histogram_discretize(codes, num_bins), discretize_factors(factors, num_bins)
    return np.array([[mutual_info_score(vc[:, j], zc[:, i]) for j in range(vc.shape[1])]
                     for i in range(zc.shape[1])])


def mig(codes: np.ndarray, factors: np.ndarray, num_bins: int = NUM_BINS) -> dict:
    """Mutual information gap. Returns {"mig", "mig_per_factor" (F,), "mi_matrix" (D, F), "factor_entropy" (F,)}.

    Per factor: (largest - second largest I(z_i; v_j) over dimensions) / H(v_j); the score is their mean.
    A factor with a single value (H = 0) scores 0."""
    mi = mutual_info_matrix(codes, factors, num_bins)
    h = discrete_entropy(discretize_factors(factors, num_bins))
    top = np.sort(mi, axis=0)[::-1]
    second = top[1] if len(top) > 1 else np.zeros(mi.shape[1])
    gaps = np.where(h > 0, (top[0] - second) / np.where(h > 0, h, 1.0), 0.0)
    return {"mig": float(gaps.mean()), "mig_per_factor": gaps, "mi_matrix": mi, "factor_entropy": h}


def _entropy_base(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy of each row of p (rows sum to 1), in units of log(base)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p), 0.0)
    return -terms.sum(axis=1) / np.log(base)


def dci_from_importance(importance: np.ndarray) -> tuple[float, float]:
    """(disentanglement, completeness) of an importance matrix R (D, F) >= 0, as disentanglement_lib."""
    r = np.abs(np.asarray(importance, dtype=np.float64))
    d_count, f_count = r.shape
    total = r.sum()
    if total <= 0:
        return 0.0, 0.0
    rows = r.sum(axis=1)
    p_rows = r / np.where(rows > 0, rows, 1.0)[:, None]
    per_dim = 1.0 - _entropy_base(p_rows, f_count) if f_count > 1 else np.ones(d_count)
    disentanglement = float((per_dim * rows / total).sum())
    cols = r.sum(axis=0)
    p_cols = (r / np.where(cols > 0, cols, 1.0)[None, :]).T
    per_factor = 1.0 - _entropy_base(p_cols, d_count) if d_count > 1 else np.ones(f_count)
    completeness = float((per_factor * cols / total).sum())
    return disentanglement, completeness


def dci(codes_train: np.ndarray, factors_train: np.ndarray, codes_test: np.ndarray, factors_test: np.ndarray,
        *, method: str = "gbt", num_bins: int = NUM_BINS, n_estimators: int = 30, seed: int = 0) -> dict:
    """DCI from one predictor per factor trained on (codes_train -> factor) and scored on the test points.

    method "gbt": scikit-learn GradientBoostingClassifier on the discretised factor, importance = its
    feature_importances_, informativeness = mean test accuracy (disentanglement_lib's choice; its 100 trees
    of depth 3 through vae.analysis.factors, n_estimators=30 here and for the quick estimate, which runs in
    seconds on two CPU cores and reads 0.05-0.08 higher).
    method "lasso": a LassoCV regression of the standardised factor on standardised codes, importance =
    |coefficients|, informativeness = mean test R^2 clipped at 0 (Eastwood & Williams' linear probe; fast,
    but blind to a factor coded nonlinearly, e.g. a rotation on a circle).
    Returns {"dci_disentanglement", "dci_completeness", "dci_informativeness", "dci_informativeness_train",
    "dci_importance" (D, F)}."""
    codes_train, factors_train = _check(codes_train, factors_train)
    codes_test, factors_test = _check(codes_test, factors_test)
    d_count, f_count = codes_train.shape[1], factors_train.shape[1]
    importance = np.zeros((d_count, f_count))
    train_scores, test_scores = [], []
    if method == "gbt":
        from sklearn.ensemble import GradientBoostingClassifier

        both = discretize_factors(np.concatenate([factors_train, factors_test]), num_bins)
        y_train, y_test = both[:len(factors_train)], both[len(factors_train):]
        for j in range(f_count):
            if len(np.unique(y_train[:, j])) < 2:   # a constant factor: nothing to predict
                train_scores.append(1.0)
                test_scores.append(1.0)
                continue
            clf = GradientBoostingClassifier(n_estimators=n_estimators, random_state=seed)
            clf.fit(codes_train, y_train[:, j])
            importance[:, j] = np.abs(clf.feature_importances_)
            train_scores.append(float(np.mean(clf.predict(codes_train) == y_train[:, j])))
            test_scores.append(float(np.mean(clf.predict(codes_test) == y_test[:, j])))
    elif method == "lasso":
        from sklearn.linear_model import LassoCV

        mu, sd = codes_train.mean(0), codes_train.std(0)
        sd = np.where(sd > 0, sd, 1.0)
        x_train, x_test = (codes_train - mu) / sd, (codes_test - mu) / sd
        for j in range(f_count):
            m, s = factors_train[:, j].mean(), factors_train[:, j].std()
            if s == 0:
                train_scores.append(1.0)
                test_scores.append(1.0)
                continue
            reg = LassoCV(cv=3, random_state=seed).fit(x_train, (factors_train[:, j] - m) / s)
            importance[:, j] = np.abs(reg.coef_)
            train_scores.append(max(0.0, float(reg.score(x_train, (factors_train[:, j] - m) / s))))
            test_scores.append(max(0.0, float(reg.score(x_test, (factors_test[:, j] - m) / s))))
    else:
        raise FactorError(f"method must be 'gbt' or 'lasso', got {method!r}")
    disentanglement, completeness = dci_from_importance(importance)
    return {"dci_disentanglement": disentanglement, "dci_completeness": completeness,
            "dci_informativeness": float(np.mean(test_scores)),
            "dci_informativeness_train": float(np.mean(train_scores)), "dci_importance": importance}


def sap(codes_train: np.ndarray, factors_train: np.ndarray, codes_test: np.ndarray, factors_test: np.ndarray,
        *, num_bins: int = NUM_BINS) -> dict:
    """Separated attribute predictability (Kumar et al. 2018). A score matrix S (D, F) rates how well each
    dimension alone predicts each factor; SAP is the mean over factors of (best - second best) of its column.

    A discrete factor (at most num_bins values: shapes' class and scale) is scored as in disentanglement_lib:
    test accuracy of a LinearSVC(C=0.01, class_weight="balanced") on that one dimension. A continuous factor
    (rotation, x, y) is scored as Kumar et al. score continuous factors, by the R^2 of a linear fit (the squared
    correlation, on the test points); disentanglement_lib would bin it into 20 classes, where a one-dimensional
    linear classifier cannot reach the middle bins and even a perfect code scores about 0.1.
    Returns {"sap", "sap_matrix" (D, F)}."""
    from sklearn.svm import LinearSVC

    codes_train, factors_train = _check(codes_train, factors_train)
    codes_test, factors_test = _check(codes_test, factors_test)
    both = discretize_factors(np.concatenate([factors_train, factors_test]), num_bins)
    y_train, y_test = both[:len(factors_train)], both[len(factors_train):]
    d_count, f_count = codes_train.shape[1], factors_train.shape[1]
    scores = np.zeros((d_count, f_count))
    for j in range(f_count):
        continuous = len(np.unique(factors_train[:, j])) > num_bins
        for i in range(d_count):
            x_train, x_test = codes_train[:, i:i + 1], codes_test[:, i:i + 1]
            if np.ptp(x_train) == 0 or len(np.unique(y_train[:, j])) < 2:
                continue
            if continuous:
                if np.ptp(x_test) > 0 and np.ptp(factors_test[:, j]) > 0:
                    scores[i, j] = float(np.corrcoef(x_test[:, 0], factors_test[:, j])[0, 1] ** 2)
            else:
                clf = LinearSVC(C=0.01, class_weight="balanced")
                clf.fit(x_train, y_train[:, j])
                scores[i, j] = float(np.mean(clf.predict(x_test) == y_test[:, j]))
    top = np.sort(scores, axis=0)[::-1]
    gaps = top[0] - (top[1] if d_count > 1 else 0.0)
    return {"sap": float(gaps.mean()), "sap_matrix": scores}


def factorvae_score(represent: Callable[[np.ndarray], np.ndarray], sample_factors: Callable[[int, np.random.Generator], np.ndarray],
                    *, n_train_votes: int = 500, n_eval_votes: int = 300, batch_size: int = 64,
                    n_variance: int = 5000, prune_threshold: float = 0.05, seed: int = 0,
                    progress: Callable[[int, int], None] | None = None) -> dict:
    """Kim & Mnih's FactorVAE score with disentanglement_lib's majority-vote classifier.

    represent(factors (n, F)) -> codes (n, D): renders the images of given factor values and encodes them.
    sample_factors(n, rng) -> (n, F): draws factor values from the data's distribution.
    Codes are divided by their standard deviation over `n_variance` random points; dimensions whose std is
    below `prune_threshold` (collapsed) take no votes. Each vote: draw a batch of `batch_size` factor rows,
    hold factor k (chosen at random) at the first row's value, and vote (argmin over active dims of the
    normalised within-batch variance, k). Each dimension predicts the factor it got most votes for; the
    score is that classifier's accuracy on fresh eval votes (disentanglement_lib uses 10000 / 5000 votes;
    500 / 300 here keep it to seconds, at a standard error of about 0.03 on the score).
    Returns {"factorvae_score", "factorvae_train_accuracy", "factorvae_votes" (D, F), "active_dims"}."""
    rng = np.random.default_rng(seed)
    codes = np.asarray(represent(sample_factors(n_variance, rng)), dtype=np.float64)
    global_var = codes.var(axis=0, ddof=1)
    active = np.sqrt(global_var) >= prune_threshold
    d_count = codes.shape[1]
    f_count = sample_factors(1, np.random.default_rng(0)).shape[1]
    total = n_train_votes + n_eval_votes
    if not active.any():
        if progress:
            progress(total, total)
        return {"factorvae_score": 0.0, "factorvae_train_accuracy": 0.0,
                "factorvae_votes": np.zeros((d_count, f_count), dtype=np.int64), "active_dims": []}

    def votes(n: int, done_before: int) -> np.ndarray:
        counts = np.zeros((d_count, f_count), dtype=np.int64)
        for v in range(n):
            k = int(rng.integers(f_count))
            f = np.array(sample_factors(batch_size, rng), dtype=np.float64)
            f[:, k] = f[0, k]
            z = np.asarray(represent(f), dtype=np.float64)
            local = z.var(axis=0, ddof=1)[active] / global_var[active]
            counts[np.flatnonzero(active)[int(np.argmin(local))], k] += 1
            if progress and (v % 10 == 9 or v == n - 1):
                progress(done_before + v + 1, total)
        return counts

    train = votes(n_train_votes, 0)
    classifier = train.argmax(axis=1)                        # the factor each dimension stands for
    train_acc = train[np.arange(d_count), classifier].sum() / max(train.sum(), 1)
    test = votes(n_eval_votes, n_train_votes)
    eval_acc = test[np.arange(d_count), classifier].sum() / max(test.sum(), 1)
    return {"factorvae_score": float(eval_acc), "factorvae_train_accuracy": float(train_acc),
            "factorvae_votes": train + test, "active_dims": np.flatnonzero(active).tolist()}
