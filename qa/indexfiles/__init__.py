"""The index folder's format: reading and writing its files (manifest, passages, vectors, the lexical index), one generation at a time."""
