"""Errors that xlt reports to the user as one line (no traceback)."""


class XltError(Exception):
    """Base class: an error caused by the user's input (config, data file, artifact)."""


class ConfigError(XltError):
    """A config value or key is wrong; the message names the key."""


class DataError(XltError):
    """A data file is missing or malformed; the message names the file (and line)."""


class ArtifactError(XltError):
    """An artifact is missing, malformed or incompatible; the message names its path."""


class RankFailure(XltError):
    """Another process of a multi-device job failed first; the message is that rank's error."""
