"""Podcasts: feeds, subscriptions and episodes in SQLite, downloads, and the episode player.

A leaf of `assistant`: it imports no pipeline or CLI code, so the skill host, the CLI and tests
can each build what they need. The skill reaches it only through `skills.sdk.MediaController`,
which `assistant.podcasts.media.PodcastMedia` implements.
"""
