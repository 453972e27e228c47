"""CloudEvents taken in: the dispatch by event type, the commands they carry (deploy, delete,
registry push) and the notify function's status changes.
"""
