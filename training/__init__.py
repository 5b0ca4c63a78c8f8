"""Fine-tuning the reader (not part of the runtime package): ``python -m training.train_reader``."""
