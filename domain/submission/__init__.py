"""Report submission context (报送)."""
