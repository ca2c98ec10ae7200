"""State diagrams drawn from the verified abstract machine."""
