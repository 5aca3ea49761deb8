"""Storage: SQLModel models, the engine, writes (store) and reads (queries)."""
