"""The five tools as the model sees them, and their dispatch to the tool-worker over Redis."""
