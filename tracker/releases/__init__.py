"""Releases: release records and their history (records), the collector's own dates from config.toml
(configured), and faster polling around them (drops)."""
