"""A local demo store (Shopify boutique + brand store) following a scripted 2002R timeline."""

from __future__ import annotations

from tracker.demo.catalogue import DemoProduct, Step
from tracker.demo.config import demo_config_text
from tracker.demo.server import DemoClock, DemoStore, ManualClock

__all__ = ["DemoClock", "DemoProduct", "DemoStore", "ManualClock", "Step", "demo_config_text"]
