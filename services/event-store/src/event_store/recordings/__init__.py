"""Session recordings: both directions of a voice session as one stereo track (left: the user,
right: the assistant), sent by the gateway in chunks while the session runs, kept beside the
database as FLAC, under a retention limit, and deleted with their conversation.

`models` (the API's shape), `audio` (the files), `store` (the rules). Nothing is imported here,
so the repository can use the model without importing the store."""
