"""Reference parts, generated from source/."""
