"""The churn demo's pipelines under a short name, for the docs' examples.

The demo itself is `relay demo` (`make demo`); its story lives in the relayml.demo package. This
file lets a reader name its data pipeline from this folder, as the docs do:
`relay pipelines run churn_demo:customer_data --param rows=1000`.
"""

from relayml.demo.story import customer_data, main

__all__ = ["customer_data"]

if __name__ == "__main__":
    main()
