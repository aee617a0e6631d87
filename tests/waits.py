"""How long a test waits for anything before it calls it a hang (a job to finish, a process to exit, a
Streamlit script run, a background task).

A bound, never a speed check: on a busy machine (other sessions, `bench/cpu_hog.py` keeping every core
busy) a training process, niced by design (VAE_TRAINING_NICE), gets a tenth of a core, so its work takes
10x or more its quiet time. Every such wait uses this one bound instead of its own guess of the work's
length; the browser tests use the same idea (tests/e2e/helpers.HANG_MS).
"""

HANG_S = 600.0
