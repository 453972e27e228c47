"""Who the caller is and what RBAC lets them do: TokenReview and SubjectAccessReview, cached, and
the namespace and registry allowlists.
"""
