"""upgrade-harness: continuous rolling-upgrade testing for OpenStack."""
