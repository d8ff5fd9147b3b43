"""The edge ships without torch, and optional SDKs (dlib, awscam) load only when chosen."""

from __future__ import annotations

import subprocess
import sys

EDGE_MODULES = ["edge.pipeline", "edge.sources", "edge.detection.haar", "edge.detection.hog", "edge.events",
                "edge.annotate", "edge.bench", "edge.runtime", "edge.model.loading", "edge.detection.yunet",
                "edge.detection.choice", "moodlens.commands.edge"]


def test_edge_modules_import_neither_torch_nor_optional_sdks():
    code = (f"import sys; import {', '.join(EDGE_MODULES)}; "
            "print(sorted(m for m in ('torch', 'dlib', 'awscam') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
