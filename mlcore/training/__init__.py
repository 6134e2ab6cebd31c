"""Training: its config, the loop, losses, pretraining, recipes, tuning."""
