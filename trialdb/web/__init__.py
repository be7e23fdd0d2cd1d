"""The web application for site staff (Flask, one blueprint per feature)."""

from trialdb.web.app import TrialdbState, create_app

__all__ = ["TrialdbState", "create_app"]
