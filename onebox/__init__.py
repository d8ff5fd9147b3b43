"""The one-box product: a site file, a supervisor that runs the embedded pipeline, and a live dashboard.

Runtime logic for `moodlens init`, `moodlens config show`, `moodlens up`, `moodlens dashboard` and
`moodlens demo`; the CLI modules under `moodlens/commands/` only parse arguments and call in here.
"""
