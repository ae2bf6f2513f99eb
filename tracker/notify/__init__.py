"""NOTIFY stage: turn a matched version into messages and deliver them through apprise.

* ``tracker.notify.render``: pure; ``(VersionEvent, Match)`` → ``Message`` in text, HTML, markdown or JSON.
* ``tracker.notify.dispatch``: the only importer of apprise; sends one message to one apprise URL.

Nothing is imported here, so importing ``tracker.notify.render`` does not load apprise.
"""
