"""tool-worker: the five voice tools, run as arq jobs against the agentic backend."""
