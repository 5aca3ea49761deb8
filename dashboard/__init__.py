"""The Streamlit dashboard: reads the tracker's database through db/, edits config.toml."""
