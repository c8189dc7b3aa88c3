"""Team and Claude Code progress, as the model hears it.

The tool-worker reads each backend message once and attaches a `RunProgress` (contracts) to the
event. The model gets each step's tagged line (`[TEAM Coder] Using tool: ...`) in its context, to
read without answering, and is asked for a spoken summary only when a run ends.
"""

SUMMARY_REQUEST = (
    "{line} The run has ended. Tell the user, in one or two short spoken sentences, what happened."
)
