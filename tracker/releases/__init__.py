"""Releases: release records and their history (records), and faster polling around them (drops)."""
