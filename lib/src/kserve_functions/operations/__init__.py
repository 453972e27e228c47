"""The API's operations, one module a concern: each takes a request and the context and answers
it.
"""
