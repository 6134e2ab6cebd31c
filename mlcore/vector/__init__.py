"""Vector inventories: reading each format safely, checking, repairing, writing, areas."""
