"""Streamlit glue of the gallery (vae.gallery): the sidebar's "Gallery" source, publishing, the Gallery page.

    glue.py      the shared Gallery, opening an entry as a LoadedModel, who may edit, Compare's candidates
    publish.py   the "Publish to the gallery" form (Train page and sidebar)
    page.py      the Gallery page: leaderboard, filter, open, add to Compare, rename, delete
"""
