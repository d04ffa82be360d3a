"""Agency adapters: one module per reference agency system, each describing its source and mapping."""
