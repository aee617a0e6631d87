"""Training: the `Trainer` (device-resident data, callbacks, stop flag, schedules, NaN guard, DDP
under torchrun) and the background `TrainingJob`.

    trainer.py       Trainer, make_model, load_training_data, TrainingDiverged
    job.py           TrainingJob, JobSnapshot: a Trainer in a thread with a locked progress snapshot
    distributed.py   this process's place in a torchrun job
"""

from vae.train.job import JOB_STATES, JobSnapshot, TrainingJob
from vae.train.trainer import EVENTS, Trainer, TrainingDiverged, dataset_info, load_training_data, make_model

__all__ = ["Trainer", "TrainingJob", "JobSnapshot", "TrainingDiverged", "make_model", "dataset_info",
           "load_training_data", "EVENTS", "JOB_STATES"]
