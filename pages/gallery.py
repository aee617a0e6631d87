"""Gallery: the models published on this server (or, locally, your own), a leaderboard, open / compare / share."""

from vae.ui.gallery.page import show
from vae.ui.sidebar import current

current()
show()
