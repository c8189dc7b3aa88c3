"""One voice session's life: its pipeline, the sessions this process holds, and the registry
every replica shares."""
