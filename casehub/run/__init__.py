"""The run layer: the command line, `casehub up` supervision, component entry points, benchmarks and the local broker.

It may import every layer below it; nothing imports it.
"""
