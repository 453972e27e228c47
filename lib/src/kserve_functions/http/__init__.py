"""HTTP in and out of a function: the ASGI request and response, and the query and body parsers."""
