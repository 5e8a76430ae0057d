"""Use cases behind the MLflow-compatible API: MLflow's names and extras over relayml's objects."""
