"""Microsoft Graph through msgraph-sdk: the Directory port (directory.py), its `$batch` shapes (batching.py), the
throttle and pacing (throttle.py), and the ranges the directory pass reads at the same time (ranges.py)."""
