"""The digits data set is read without scikit-learn and split exactly as scikit-learn splits it."""

import subprocess
import sys

import numpy as np
import pytest

from vae.data.digits import load_digits_arrays, stratified_split


def test_arrays_match_sklearn():
    from sklearn.datasets import load_digits

    images, labels = load_digits_arrays()
    d = load_digits()
    np.testing.assert_array_equal(images, d.images)
    np.testing.assert_array_equal(labels, d.target)


@pytest.mark.parametrize("seed,n_test", [(0, 300), (1, 300), (7, 50), (3, 1000)])
def test_split_matches_train_test_split(seed, n_test):
    from sklearn.model_selection import train_test_split

    _, labels = load_digits_arrays()
    ref_train, ref_test = train_test_split(np.arange(len(labels)), test_size=n_test, stratify=labels,
                                           random_state=seed)
    train, test = stratified_split(labels, n_test, seed)
    np.testing.assert_array_equal(train, ref_train)
    np.testing.assert_array_equal(test, ref_test)


def test_loading_digits_does_not_import_sklearn():
    code = "import sys; from vae.data import load_dataset; load_dataset('digits'); print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
