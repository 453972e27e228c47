"""Shared library of the KServe Model Functions.

Every function under ``functions/`` and the root function import their models,
manifest builders, status readers and the one Kubernetes client module from
here, so the four functions and the all-in-one root answer identically.
"""
