"""A real RTSP server for the edge tests: GStreamer's RTSP server (Debian's gir1.2-gst-rtsp-server-1.0)
serving a sample clip at rtsp://127.0.0.1:PORT/clip, in real time.

Run with Debian's own Python (the one with `gi`): /usr/bin/python3 tests/support/rtsp_server.py CLIP PORT.
It prints "ready" once it listens. Every client session plays the clip from its start; at its end the
session ends (the client sees a dropped stream). Restarted with another clip, the resolution changes.
"""

from __future__ import annotations

import sys

import gi  # type: ignore[import-not-found]

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # type: ignore[import-not-found]  # noqa: E402


def main(clip: str, port: int) -> None:
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    codec = "h265" if clip.lower().endswith(".mov") else "h264"  # the sample clips: .mp4 H.264, .mov HEVC
    # the clip's own frames, not re-encoded; identity sync=true paces them at their real time
    factory.set_launch(f"( filesrc location={clip} ! qtdemux name=d d.video_0 ! queue ! {codec}parse ! "
                       f"identity sync=true ! rtp{codec}pay name=pay0 pt=96 config-interval=1 )")
    factory.set_shared(False)
    server.get_mount_points().add_factory("/clip", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{port}", flush=True)
        sys.exit(1)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
