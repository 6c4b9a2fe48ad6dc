"""Running sweeps on clusters: the ``cluster`` config, submitit launchers (SLURM and local, with a
dry run that prints the sbatch script), and the sweeper with paired (zipped) dimensions."""
