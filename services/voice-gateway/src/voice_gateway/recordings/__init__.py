"""Session recordings: the audio the serializer sees in both directions, aligned on the
session's clock (`aligner`), sent to the event-store in chunks while the session runs
(`recorder`, over `store_client`), finished when the session ends."""
