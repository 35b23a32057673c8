"""Shared test set-up: Hypothesis profiles, chosen by HYPOTHESIS_PROFILE (or CI=true)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)

# Local fakes of the services hashmatch talks to (exchanges, perceptual vendors): importable
# by name from any test module.
sys.path.insert(0, str(Path(__file__).parent / "fakes"))
