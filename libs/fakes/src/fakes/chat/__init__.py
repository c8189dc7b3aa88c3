"""Modules of the fake OpenAI-compatible chat server; import it from `fakes.openai_chat`."""
