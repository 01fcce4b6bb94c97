"""Report builders and renderers."""
