"""Model flavors, signatures and the predictor: save, load and call any supported model."""
