"""Frame sources: video file, camera index, RTSP/HTTP stream, image folder, AWS DeepLens (`awscam`)."""

from __future__ import annotations

from pathlib import Path

from edge.redact import mask_credentials
from edge.sources.awscam import AwsCamSource
from edge.sources.capture import ReconnectPolicy, VideoCaptureSource
from edge.sources.errors import EXIT_CONFIGURATION, EXIT_SOURCE_LOST, SourceError
from edge.sources.folder import IMAGE_SUFFIXES, ImageFolderSource
from edge.sources.pacing import not_ahead, paced, sampled
from edge.sources.playlist import VIDEO_SUFFIXES, VideoFolderSource
from edge.sources.resume import recorded_identity, resumed

__all__ = ["EXIT_CONFIGURATION", "EXIT_SOURCE_LOST", "AwsCamSource", "ImageFolderSource", "ReconnectPolicy",
           "SourceError", "VideoCaptureSource", "VideoFolderSource", "is_live", "not_ahead", "open_source",
           "paced", "recorded_identity", "resumed", "sampled"]

STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")
AnySource = VideoCaptureSource | ImageFolderSource | VideoFolderSource | AwsCamSource


def is_live(spec: str) -> bool:
    """A camera index, a stream URL or the DeepLens camera: may come back after a failure (a file may not)."""
    text = spec.strip()
    return text == "awscam" or text.isdigit() or text.lower().startswith(STREAM_SCHEMES)


def open_source(spec: str, reconnect: ReconnectPolicy | None = None, folder_fps: float = 10.0,
                first_frame: int = 0) -> AnySource:
    """Chooses the source from its spec: 'awscam', a camera index ('0'), a stream URL, a folder, or a file.

    `first_frame`: a video file starts there (a seek; `resumed` skips up to it in the other recorded sources)."""
    text = spec.strip()
    if not text:
        raise SourceError("empty --source: give a video file, camera index, stream URL, image folder or 'awscam'")
    if text == "awscam":
        return AwsCamSource(reconnect=reconnect)
    if text.isdigit():
        return VideoCaptureSource(int(text), live=True, reconnect=reconnect)
    if text.lower().startswith(STREAM_SCHEMES):
        return VideoCaptureSource(text, live=True, reconnect=reconnect)
    path = Path(text)
    shown = mask_credentials(text)
    if path.is_dir():
        return _folder_source(path, folder_fps)
    if path.is_file():
        if path.suffix.lower() in IMAGE_SUFFIXES:
            raise SourceError(f"source {shown!r} is a single image; put it in a folder to use it as an image folder")
        return VideoCaptureSource(str(path), live=False, first_frame=first_frame)
    raise SourceError(f"source {shown!r} is not a file, folder, camera index, stream URL or 'awscam'")


def _folder_source(folder: Path, folder_fps: float) -> ImageFolderSource | VideoFolderSource:
    """Images (one frame each) or videos (played in turn) as one camera; a mix is refused, not guessed."""
    files = [p for p in folder.iterdir() if p.is_file()]
    images = sum(p.suffix.lower() in IMAGE_SUFFIXES for p in files)
    videos = sum(p.suffix.lower() in VIDEO_SUFFIXES for p in files)
    if images and videos:
        raise SourceError(f"folder {folder} holds {images} images and {videos} videos: a folder is either "
                          "images (frames) or videos (played in turn); move one kind out")
    if videos:
        return VideoFolderSource(folder)
    return ImageFolderSource(folder, fps=folder_fps)
