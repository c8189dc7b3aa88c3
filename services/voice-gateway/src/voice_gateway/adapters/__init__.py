"""Every reach into a library's internals, one module per library: each is self-checked
at start and canary-tested, and its library pinned exactly."""
