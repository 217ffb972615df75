"""Gaita's composition root: settings, CLI, and (later) scheduler and web app."""
