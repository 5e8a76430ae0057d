"""Serving: the model server, deployments, the prediction log and A/B results."""
