"""The Model Context Protocol server: the API's operations as MCP tools and resources.

``tools`` (the tool table, each tool's input schema from its route's contract, a
call as the route's request, its answer as a tool result) and ``resources`` (a
model's summary as a resource, its watch as a subscription) import no MCP SDK;
``server`` builds the SDK's server from them and is imported only by
``endpoint`` on the first ``/mcp`` request.
"""
