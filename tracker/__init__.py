"""Release and price tracker for the New Balance 2002R."""

from __future__ import annotations

__version__ = "0.1.0"
