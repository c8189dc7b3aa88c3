"""Runtime plumbing every agentic-voice service shares, that is not a contract (contracts
live in `contracts`): one log format for every record a service writes."""
