"""What crosses the browser's socket: the routes, admission, the wire formats, the socket."""
