"""Panels of the main window, one idea each."""
