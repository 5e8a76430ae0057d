"""Deployments: revisions of what each environment serves, A/B results, shipping the winner."""
