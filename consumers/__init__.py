"""Kafka relay and consumer runners (production mode)."""
