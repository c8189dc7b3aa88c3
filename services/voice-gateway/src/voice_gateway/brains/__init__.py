"""The brains a session talks to: the OpenAI Realtime service or the local brain, and how a
team run's progress reaches them."""
