"""The API surface: the routes' table, each operation's contract, and the OpenAPI document built
from them.
"""
