"""Reading what a user hands over, and writing folders so that a crash never loses one.

    safezip.py      zip members inflated with a hard cap on the bytes produced (stored and deflate only)
    safefile.py     user-named files read only when regular (a FIFO or device never hangs), with a size cap
    tensorfile.py   safetensors headers parsed by hand and checked before anything is allocated
    atomic_dir.py   a folder swapped into place so that the old or the new one survives any crash
"""
