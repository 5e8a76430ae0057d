"""Monitoring: drift, performance with late labels, KPIs, decision rules, alerts, feedback."""
