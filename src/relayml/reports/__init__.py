"""The model risk manager's views: the model inventory and generated model risk reports."""
