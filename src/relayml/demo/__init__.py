"""The relayml demo: the churn project's whole life cycle on the embedded store.

`relay demo` (and `make demo`) runs it: act one (story.py) takes the business question to an
approved model in production with the team (team.py) and a first day of traffic (production.py);
act two (weeks.py) lives eight simulated weeks in production: drift, alerts, a webhook, flags, a
decision rule changed, retraining, an A/B test, the winner shipped and the risk report written.
"""
