"""Blueprints: thin adapters from HTTP to the domain functions in service/."""
