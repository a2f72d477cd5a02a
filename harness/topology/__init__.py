"""Where the cloud runs: nodes and the backends that provide them."""
