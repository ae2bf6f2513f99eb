"""The web views of tracker: ``tracker serve`` (see ``tracker.web.app``)."""
