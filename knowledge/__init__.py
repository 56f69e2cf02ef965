"""The question bank: its format, validation, and the Chroma store it is served from."""
