"""Release and price tracker for the New Balance 2002R."""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"

# Where every command looks for its config unless --config says otherwise.
DEFAULT_CONFIG = Path("config.toml")
# The largest body a check reads (`[defaults] max_body_bytes`), and what `tracker extract` reads.
DEFAULT_MAX_BODY_BYTES = 8_000_000
