"""Inbound mail."""
