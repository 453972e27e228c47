"""CloudEvents: the envelope of an incoming event and the reply, container-registry push payloads,
and the sink that status-change events are sent to.
"""
