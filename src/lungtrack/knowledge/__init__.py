"""Built-in knowledge tables (drugs, markers, variants, resistance, sources). Pure data."""
