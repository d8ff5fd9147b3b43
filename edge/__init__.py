"""On-camera side of moodlens: frames, faces, tracks, expressions, events."""
