"""Background upkeep of the database that no request waits for."""
