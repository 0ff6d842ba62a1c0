"""What can go wrong with feeds, downloads and playback; each error says what to do about it."""

from __future__ import annotations

from assistant.errors import SottovoceError


class PodcastError(SottovoceError):
    """Root of the podcast errors. Nothing stored is changed when one is raised."""

    code = "podcast_error"


class FetchError(PodcastError):
    """The server could not be reached, answered with an error, or was too slow."""

    code = "podcast_fetch"


class HttpStatusError(FetchError):
    code = "podcast_http_status"

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class FetchTimeoutError(FetchError):
    """No answer in time: a read timed out, or a request passed its wall-clock deadline."""

    code = "podcast_timeout"


class BadResponseError(FetchError):
    """The server's answer is not valid HTTP (a broken status line, headers or chunking)."""

    code = "podcast_bad_response"


class IncompleteError(FetchError):
    """The answer ended before all of it came: an episode's partial file is kept to resume."""

    code = "podcast_incomplete"


class CancelledFetchError(FetchError):
    """The request was stopped on purpose: another "play" took over, or the assistant is
    shutting down."""

    code = "podcast_cancelled"


class TooLargeError(FetchError):
    code = "podcast_too_large"


class NotAFeedError(PodcastError):
    code = "podcast_not_a_feed"


class NotAudioError(PodcastError):
    """An enclosure that is not audio (a video, a web page) is never downloaded or played."""

    code = "podcast_not_audio"


class DiskFullError(PodcastError):
    code = "podcast_disk_full"


class UnknownPodcastError(PodcastError):
    code = "podcast_unknown"


class PlaybackError(PodcastError):
    """The file cannot be decoded or the sink refused it."""

    code = "podcast_playback"


class DamagedFileError(PlaybackError):
    """A downloaded file that cannot be opened as audio: it is deleted, to be fetched again."""

    code = "podcast_damaged"
