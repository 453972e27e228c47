"""The vocabulary every layer shares, with no I/O: the request and answer models, the errors, the
Kubernetes resources and names, the grammars.
"""
