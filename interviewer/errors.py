"""Errors by cause. Every message says what was expected and what to do."""


class InterviewerError(Exception):
    """Base of every error this app raises on purpose."""


class ModelMissing(InterviewerError):
    """A model file is not where the registry says; the message names the command that fetches it."""


class ModelCorrupt(InterviewerError):
    """A model file is present but its checksum or format is wrong."""


class BadModelOutput(InterviewerError):
    """A model answered with something that does not fit the expected shape."""


class BackendUnavailable(InterviewerError):
    """A backend could not be started or reached."""


class BadInput(InterviewerError):
    """The user gave something we cannot use: a bad file, an empty upload, an unknown topic."""


class StorageUnavailable(InterviewerError):
    """The data directory or the sessions database cannot be used: read-only, locked or failing."""


class LLMTimeout(BackendUnavailable):
    """The LLM did not finish within its time budget (busy with another call, or slow); a fallback applies."""


class LLMBusy(LLMTimeout):
    """The LLM is running or has queued another caller's call, and this call would rather not wait behind it (a
    reply the candidate is waiting for); a fallback applies at once."""
