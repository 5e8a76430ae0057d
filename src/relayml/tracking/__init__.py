"""Tracking: experiments, runs, params, metric series, tags, artifacts and search."""
