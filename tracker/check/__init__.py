"""The stages of a check, one module each: collect (fetch + extract), triage, record, finish.

``tracker.pipeline`` is the one module that knows their order.
"""
