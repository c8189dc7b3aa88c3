"""HTTP and WebSocket routes: thin handlers over the repository."""
