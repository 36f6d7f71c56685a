"""The staff web UI stores nothing of its own.

This module exists so that Django treats `web` as an app with models: post_migrate is sent
for it, and receivers that wait for the last installed app (core.permissions'
roles_sync_after_migrate) still run now that `web` is the last app.
"""
