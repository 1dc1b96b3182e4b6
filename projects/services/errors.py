class ServiceError(Exception):
    """A rule of ours was broken; the message is for the person who tried."""
