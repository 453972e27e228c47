"""The web console: its static files, served under ``/ui/`` with strict headers."""
