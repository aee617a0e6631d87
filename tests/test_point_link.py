"""One data point carried by a link (?point=split:index) to the Decode and Posterior pages (issue 27)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from vae.ui.point_link import format_point, link_params, parse_point


@pytest.mark.parametrize("text,expected", [("test:12", ("test", 12)), ("train:0", ("train", 0))])
def test_parse_point_reads_split_and_index(text, expected):
    assert parse_point(text) == expected
    assert parse_point(format_point(*expected)) == expected


@pytest.mark.parametrize("text", [None, "", "12", "val:3", "test:-1", "test:1.5", "test:", "test:1234567890"])
def test_parse_point_refuses_anything_else(text):
    assert parse_point(text) is None


def test_a_link_names_a_bundled_or_gallery_model_and_never_an_uploaded_one():
    bundled = SimpleNamespace(lm=SimpleNamespace(source="bundled", path=Path("/x/assets/mnist-2d"), ref=None))
    assert link_params(bundled, "test", 7) == {"point": "test:7", "model": "mnist-2d"}
    gallery = SimpleNamespace(lm=SimpleNamespace(source="gallery", path=None, ref="gallery:abc"))
    assert link_params(gallery, "train", 3) == {"point": "train:3", "model": "gallery:abc"}
    upload = SimpleNamespace(lm=SimpleNamespace(source="upload", path=Path("/tmp/u.pt"), ref=None))
    assert link_params(upload, "test", 1) == {"point": "test:1"}
