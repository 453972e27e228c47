"""Pure builders and readers of Kubernetes objects: an InferenceService from a request, a model's
state from its status, revisions, audit Events and annotations, state transitions.
"""
