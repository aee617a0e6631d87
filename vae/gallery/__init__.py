"""Published models shared on one server: SQLite metadata and content-addressed weights (no Streamlit here).

    store.py    Gallery (publish, list, rename, delete, sweep), Entry, owner_hash, gallery_dir
    limits.py   the limits as environment variables with defaults
    figures.py  the figures shown beside an entry: test ELBO and IWAE on a capped test subset
"""

from vae.gallery.store import (Entry, Gallery, GalleryError, GalleryRefused, content_hash, gallery_dir,  # noqa: F401
                               owner_hash)
