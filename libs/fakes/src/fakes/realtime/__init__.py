"""Modules of the fake OpenAI Realtime server; import it from `fakes.openai_realtime`."""
