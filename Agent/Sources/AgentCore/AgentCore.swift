// The agent core.
