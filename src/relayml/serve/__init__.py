"""The model server's interface: its ASGI app (Open Inference Protocol V2, /predict, outcomes,
/metrics) and the process runner (uvicorn, forked workers). The serving logic is relayml.serving."""
