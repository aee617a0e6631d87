"""Training: the `Trainer` (device-resident data, callbacks, stop flag, schedules, NaN guard, DDP
under torchrun) and the background `TrainingJob`.

    trainer.py       Trainer: epochs, steps, callbacks, stop flag, NaN guard, DDP; it calls the three parts below
    schedule.py      steps per epoch, beta and learning rate at a step (pure functions)
    evaluation.py    evaluate_test_split: the test-split score each epoch; TEST_BINARIZE_SEED, EVAL_BATCH
    checkpointing.py run_state, restore_run, resume_inputs: what a checkpoint records, reading it back
    inputs.py        make_model, load_training_data, dataset_info: what a run starts from
    divergence.py    TrainingDiverged, chance_loss_nats: when a run has blown up
    objective_terms.py  ObjectiveTerms: what the objective (elbo, iwae, tcvae, factorvae) adds to a step
    discriminator.py FactorDiscriminator: FactorVAE's TC discriminator, its Adam and its checkpointed state
    sweep.py         plan_sweep, run_sweep: models that differ in beta, latent size or objective
    job.py           TrainingJob, JobSnapshot: a Trainer in a thread with a locked progress snapshot
    process_job.py   ProcessTrainingJob: a TrainingJob in a child process (what the app runs)
    distributed.py   this process's place in a torchrun job
"""

from vae.train.job import JOB_STATES, JobSnapshot, TrainingJob
from vae.train.process_job import ProcessTrainingJob
from vae.train.divergence import TrainingDiverged
from vae.train.inputs import dataset_info, load_training_data, make_model
from vae.train.trainer import EVENTS, Trainer

__all__ = ["Trainer", "TrainingJob", "ProcessTrainingJob", "JobSnapshot", "TrainingDiverged", "make_model", "dataset_info",
           "load_training_data", "EVENTS", "JOB_STATES"]
