"""event-store: consumes the conversation events stream into SQLite and serves history."""
