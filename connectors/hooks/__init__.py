"""Python hooks for what a mapping file cannot say (nested records built from several columns)."""
