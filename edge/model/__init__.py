"""The expression model on the edge: where it comes from, how it is verified and signed, and swapped in."""
