"""Errors that carry a message meant for the user (CLI line, GUI dialog), not a traceback."""


class WorkbenchError(Exception):
    """A problem the user can fix: bad name, bad path, bad value, corrupt file."""


class ConfigError(WorkbenchError):
    """A configuration value is unknown, unparsable or out of its limits."""


class CheckpointError(WorkbenchError):
    """A checkpoint or run directory is missing, incomplete or corrupt."""


class DatasetError(WorkbenchError):
    """A dataset name is unknown or its files cannot be read."""
