// Shared setup for every test file: keep secrets and data out of ./data.
