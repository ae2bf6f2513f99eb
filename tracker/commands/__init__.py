"""Groups of ``tracker`` commands kept out of ``tracker.cli``."""
