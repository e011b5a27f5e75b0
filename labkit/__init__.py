"""labkit: what the Chapter 2 notebooks import (tiny models, the mini engine, timing helpers)."""
