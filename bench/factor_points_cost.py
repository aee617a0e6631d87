"""CPU seconds of one evaluate_factors on assets/shapes-8d (100-tree DCI, 40/40 votes) at 900 vs 300 points,
alternating: what tests/test_cli_factors.py's small_factor_protocol costs.   python bench/factor_points_cost.py"""
import sys, time
sys.path.insert(0, ".")
import torch
from vae.checkpoint import load_model
from vae.analysis import factors as fm
from vae.train.inputs import load_training_data
torch.set_num_threads(1)
import json
from vae.config import TrainConfig
run = "assets/shapes-8d"
model = load_model(run)
cfg = TrainConfig.from_dict(json.load(open(run + "/config.json"))["train"])
ds = load_training_data(cfg)
fm.FACTORVAE_VOTES = (40, 40)
for n in (900, 300, 900, 300):
    t = time.process_time()
    out = fm.evaluate_factors(model, ds, n_points=n)
    print(f"| n_points {n} | {time.process_time() - t:6.2f} CPU s | mig {out['mig']:.3f} dci {out['dci_disentanglement']:.3f} |", flush=True)
