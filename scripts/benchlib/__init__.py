"""Helpers of scripts/bench-verifier-daemons: simulated guests for our verifier and for Keylime's, and
CPU accounting of a daemon's processes from /proc."""
