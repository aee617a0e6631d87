"""One numbering of latent dimensions: the same dimension has the same label on Decode, Factors, Compare and in
the CSV."""

from __future__ import annotations

import csv
import io
import re
import time

import numpy as np

from tests.test_app_pages import open_page, plain_sliders  # noqa: F401  (open_page is a fixture)
from vae.dims import dim_label, dim_number


def test_dim_label_is_the_library_index_counted_from_one():
    assert [dim_label(i) for i in range(3)] == ["z1", "z2", "z3"] and dim_number(7) == 8


def test_the_same_dimension_has_one_label_on_decode_factors_compare_and_the_csv(open_page, monkeypatch):  # noqa: F811
    from vae.ui.compare import factors as fu

    # what is tested is the page's labels: the metrics on 400 images, few votes and 3 DCI trees (the KL of a
    # dimension, on 400 images, still within a few percent of the Decode page's)
    monkeypatch.setitem(fu.PRECISIONS, "quick", dict(fu.PRECISIONS["quick"], n_points=400, factorvae_votes=(20, 20),
                                                     dci_trees=3))
    fac = open_page("factors", model="shapes-beta")
    deadline = time.monotonic() + 300          # the factor metrics are computed in a background task
    while not (caps := [c.value for c in fac.caption if "KL of z" in c.value]):
        assert not fac.exception and time.monotonic() < deadline, "the Factors page never showed its rows"
        time.sleep(0.5)
        fac.run()
    assert caps, "the Factors page shows no factor -> dimension rows"
    # the factor carried most clearly: its dimension's label and KL as Factors shows them
    shown = [(float(a), b, float(c)) for a, b, c in
             ((m.group(1), m.group(2), m.group(3))
              for m in (re.search(r"I/H = ([\d.]+).*KL of (z\d+): ([\d.]+) nats", c) for c in caps) if m)]
    share, label, kl = max(shown)
    assert kl > 0.5, "the best carried factor should sit on an active dimension"

    dec = plain_sliders(open_page("decode", model="shapes-beta"))
    sliders = {s.label.split(" ")[0]: s.label for s in dec.slider if s.label.startswith("z")}
    assert label in sliders, (label, list(sliders))
    dec_kl = float(sliders[label].split("KL ")[1].split(" ")[0])
    # the same dimension: the same KL (a different dimension of a beta-VAE is collapsed or carries another factor)
    assert abs(dec_kl - kl) < 0.15 * max(kl, 1.0), (label, dec_kl, kl)

    # Compare (shapes-beta beside shapes-8d): its traversal rows name the dimension the same way, with the same KL
    from vae.ui.compare import models as cmp_models

    real = cmp_models.summarize_model      # what is tested is the page's labels: score without the factor metrics
    monkeypatch.setattr(cmp_models, "summarize_model",
                        lambda model, dataset, **kw: real(model, dataset, **{**kw, "iwae_samples": 2, "factors": False}))
    cmp = open_page("compare", model="shapes-beta")
    deadline = time.monotonic() + 300          # the models are scored in background tasks
    while not (rows := [c for im in cmp.image for c in im.captions if c.startswith("rows: ")]):
        assert not cmp.exception and time.monotonic() < deadline, "the Compare page never drew its traversals"
        time.sleep(0.5)
        cmp.run()
    shown_cmp = dict(re.findall(r"(z\d+) \(KL ([\d.]+)\)", rows[0]))      # the first column: the sidebar's model
    assert label in shown_cmp, (label, rows[0])
    assert abs(float(shown_cmp[label]) - kl) < 0.15 * max(kl, 1.0), (label, shown_cmp[label], kl)

    # the Latent map's "Map as CSV" (the bytes its button serves) names the dimension with the same number: its
    # mu_ and sigma_ columns of that number give the same KL as the label on the other pages
    lmap = open_page("latent_map", model="shapes-beta")
    memo = lmap.session_state["_vae_map_csv_eager"]            # (content digest, the CSV the button serves)
    table = list(csv.reader(io.StringIO(memo[1].decode("utf-8"))))
    header, rows = table[0], np.array(table[1:])
    d = int(label[1:])
    assert f"mu_{d}" in header and f"sigma_{d}" in header, header
    mus = [h for h in header if h.startswith("mu_")]
    assert mus == [f"mu_{j}" for j in range(1, len(mus) + 1)]      # counted from 1, as z1..zD
    mu = rows[:, header.index(f"mu_{d}")].astype(float)
    sigma = rows[:, header.index(f"sigma_{d}")].astype(float)
    csv_kl = float(np.mean(0.5 * (mu ** 2 + sigma ** 2 - 1.0) - np.log(sigma)))
    assert abs(csv_kl - kl) < 0.15 * max(kl, 1.0), (label, csv_kl, kl)
