"""The load: locust users through the HAProxy VIP, run in their own process (importing
locust monkey-patches the process with gevent), every request written to a ledger."""
