"""Summarising a results CSV for a person: counts, confidence, errors, accuracy, a page."""
