from __future__ import annotations

from ci_profile.cli import main

main()
