"""More than one machine: the clock, the workers and the job queue they share in PostgreSQL."""
