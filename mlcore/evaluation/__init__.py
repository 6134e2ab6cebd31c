"""Accuracy: pixels, objects, metrics, area-frequency, reports."""
