"""A trained model's directory: config.json, weights, checkpoints."""
