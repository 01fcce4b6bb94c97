"""directory endpoints."""
