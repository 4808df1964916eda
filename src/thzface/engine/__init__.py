"""Training engine (Lightning), checkpoints and inference helpers."""
